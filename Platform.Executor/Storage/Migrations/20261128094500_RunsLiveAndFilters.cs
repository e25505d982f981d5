using Microsoft.EntityFrameworkCore.Infrastructure;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Platform.Executor.Storage.Migrations
{
    /// <summary>
    /// What the dashboard needs at a million runs, as plain SQL (the EF model does not describe triggers, and the
    /// index is only read by the hand-written queries in <c>Queries/PlatformQueries.Runs.cs</c>):
    /// <list type="bullet">
    /// <item><c>NOTIFY platform_runs</c> when runs are created (once per INSERT statement) and when a run's status
    /// changes (a row trigger whose <c>WHEN</c> is evaluated without calling any function, so a step commit that
    /// leaves the status as it was costs nothing more). The payload is empty: identical notifications of one
    /// transaction are folded into one by PostgreSQL, and listeners only need to know that something moved.</item>
    /// <item><c>(function_id, status, id)</c>: the per-status counts and the status tab of one function (or app) are
    /// index ranges instead of scans of that function's runs.</item>
    /// </list>
    /// </summary>
    [DbContext(typeof(PlatformDbContext))]
    [Migration("20261128094500_RunsLiveAndFilters")]
    public partial class RunsLiveAndFilters : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                CREATE INDEX IF NOT EXISTS ix_runs_function_status ON platform.runs (function_id, status, id);

                CREATE OR REPLACE FUNCTION platform.notify_runs_changed() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN
                    PERFORM pg_notify('platform_runs', '');
                    RETURN NULL;
                END
                $$;

                CREATE TRIGGER runs_created_notify AFTER INSERT ON platform.runs
                    FOR EACH STATEMENT EXECUTE FUNCTION platform.notify_runs_changed();

                CREATE TRIGGER runs_status_notify AFTER UPDATE OF status ON platform.runs
                    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status) EXECUTE FUNCTION platform.notify_runs_changed();
                """);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.Sql("""
                DROP TRIGGER IF EXISTS runs_status_notify ON platform.runs;
                DROP TRIGGER IF EXISTS runs_created_notify ON platform.runs;
                DROP FUNCTION IF EXISTS platform.notify_runs_changed();
                DROP INDEX IF EXISTS platform.ix_runs_function_status;
                """);
        }
    }
}
