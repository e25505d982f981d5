using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Platform.Executor.Storage.Migrations
{
    /// <summary>
    /// The run-change triggers skip transactions that announce their changes themselves (<c>platform.notify</c> set to
    /// <c>deferred</c> for the transaction, see <c>Scheduling/RunChangeNotifier.cs</c>): the executor's hot path no
    /// longer takes PostgreSQL's notify lock at commit. Plain SQL, like the migration that made the triggers.
    /// </summary>
    [DbContext(typeof(PlatformDbContext))]
    [Migration("20261128110000_RunsNotifyDeferred")]
    public partial class RunsNotifyDeferred : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION platform.notify_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    IF current_setting('platform.notify', true) IS DISTINCT FROM 'deferred' THEN
                        PERFORM pg_notify('platform_runs', '');
                    END IF;
                    RETURN NULL;
                END
                $$;
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE OR REPLACE FUNCTION platform.notify_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('platform_runs', '');
                    RETURN NULL;
                END
                $$;
                """);
        }
    }
}
