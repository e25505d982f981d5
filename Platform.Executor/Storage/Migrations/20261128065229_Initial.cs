using System;
using Microsoft.EntityFrameworkCore.Migrations;
using Npgsql.EntityFrameworkCore.PostgreSQL.Metadata;

#nullable disable

namespace Platform.Executor.Storage.Migrations
{
    /// <inheritdoc />
    public partial class Initial : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.EnsureSchema(
                name: "platform");

            migrationBuilder.CreateSequence(
                name: "step_seq",
                schema: "platform");

            migrationBuilder.CreateTable(
                name: "apps",
                schema: "platform",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    url = table.Column<string>(type: "text", nullable: false),
                    sdk = table.Column<string>(type: "text", nullable: true),
                    framework = table.Column<string>(type: "text", nullable: true),
                    app_version = table.Column<string>(type: "text", nullable: true),
                    checksum = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    synced_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_apps", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "event_dedupe",
                schema: "platform",
                columns: table => new
                {
                    event_id = table.Column<string>(type: "text", nullable: false),
                    internal_id = table.Column<string>(type: "text", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_event_dedupe", x => x.event_id);
                });

            migrationBuilder.CreateTable(
                name: "events",
                schema: "platform",
                columns: table => new
                {
                    id = table.Column<string>(type: "text", nullable: false),
                    event_id = table.Column<string>(type: "text", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    data = table.Column<string>(type: "jsonb", nullable: false),
                    ts = table.Column<long>(type: "bigint", nullable: false),
                    v = table.Column<string>(type: "text", nullable: true),
                    user = table.Column<string>(type: "jsonb", nullable: true),
                    received_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_events", x => x.id);
                });

            migrationBuilder.CreateTable(
                name: "functions",
                schema: "platform",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    app_id = table.Column<Guid>(type: "uuid", nullable: false),
                    slug = table.Column<string>(type: "text", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    url = table.Column<string>(type: "text", nullable: false),
                    retries = table.Column<int>(type: "integer", nullable: false),
                    triggers = table.Column<string>(type: "jsonb", nullable: false),
                    config = table.Column<string>(type: "jsonb", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    updated_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    archived_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_functions", x => x.id);
                    table.ForeignKey(
                        name: "fk_functions_apps_app_id",
                        column: x => x.app_id,
                        principalSchema: "platform",
                        principalTable: "apps",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "runs",
                schema: "platform",
                columns: table => new
                {
                    id = table.Column<string>(type: "text", nullable: false),
                    function_id = table.Column<Guid>(type: "uuid", nullable: false),
                    event_id = table.Column<string>(type: "text", nullable: false),
                    status = table.Column<string>(type: "text", nullable: false),
                    version = table.Column<long>(type: "bigint", nullable: false),
                    lease_owner = table.Column<string>(type: "text", nullable: true),
                    lease_until = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    next_wake_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    dispatched_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    recoveries = table.Column<int>(type: "integer", nullable: false),
                    wake_seq = table.Column<long>(type: "bigint", nullable: false),
                    state = table.Column<string>(type: "jsonb", nullable: false),
                    output = table.Column<string>(type: "jsonb", nullable: true),
                    error = table.Column<string>(type: "jsonb", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    ended_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_runs", x => x.id);
                    table.ForeignKey(
                        name: "fk_runs_functions_function_id",
                        column: x => x.function_id,
                        principalSchema: "platform",
                        principalTable: "functions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "attempts",
                schema: "platform",
                columns: table => new
                {
                    id = table.Column<long>(type: "bigint", nullable: false)
                        .Annotation("Npgsql:ValueGenerationStrategy", NpgsqlValueGenerationStrategy.IdentityByDefaultColumn),
                    run_id = table.Column<string>(type: "text", nullable: false),
                    step_id = table.Column<string>(type: "text", nullable: false),
                    step_name = table.Column<string>(type: "text", nullable: true),
                    attempt = table.Column<int>(type: "integer", nullable: false),
                    error = table.Column<string>(type: "jsonb", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    ended_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    retry_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_attempts", x => x.id);
                    table.ForeignKey(
                        name: "fk_attempts_runs_run_id",
                        column: x => x.run_id,
                        principalSchema: "platform",
                        principalTable: "runs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "steps",
                schema: "platform",
                columns: table => new
                {
                    run_id = table.Column<string>(type: "text", nullable: false),
                    step_id = table.Column<string>(type: "text", nullable: false),
                    name = table.Column<string>(type: "text", nullable: false),
                    display_name = table.Column<string>(type: "text", nullable: true),
                    op = table.Column<string>(type: "text", nullable: false),
                    output = table.Column<string>(type: "jsonb", nullable: false),
                    output_sha256 = table.Column<byte[]>(type: "bytea", nullable: false),
                    seq = table.Column<long>(type: "bigint", nullable: false, defaultValueSql: "nextval('platform.step_seq')"),
                    attempts = table.Column<int>(type: "integer", nullable: false),
                    started_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true),
                    completed_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_steps", x => new { x.run_id, x.step_id });
                    table.ForeignKey(
                        name: "fk_steps_runs_run_id",
                        column: x => x.run_id,
                        principalSchema: "platform",
                        principalTable: "runs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateTable(
                name: "waits",
                schema: "platform",
                columns: table => new
                {
                    id = table.Column<Guid>(type: "uuid", nullable: false),
                    run_id = table.Column<string>(type: "text", nullable: false),
                    step_id = table.Column<string>(type: "text", nullable: false),
                    event_name = table.Column<string>(type: "text", nullable: false),
                    expression = table.Column<string>(type: "text", nullable: true),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    expires_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_waits", x => x.id);
                    table.ForeignKey(
                        name: "fk_waits_runs_run_id",
                        column: x => x.run_id,
                        principalSchema: "platform",
                        principalTable: "runs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_apps_name",
                schema: "platform",
                table: "apps",
                column: "name",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_attempts_run_id_id",
                schema: "platform",
                table: "attempts",
                columns: new[] { "run_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_event_dedupe_expires_at",
                schema: "platform",
                table: "event_dedupe",
                column: "expires_at");

            migrationBuilder.CreateIndex(
                name: "ix_events_event_id",
                schema: "platform",
                table: "events",
                column: "event_id");

            migrationBuilder.CreateIndex(
                name: "ix_events_name_id",
                schema: "platform",
                table: "events",
                columns: new[] { "name", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_functions_app_id",
                schema: "platform",
                table: "functions",
                column: "app_id");

            migrationBuilder.CreateIndex(
                name: "ix_functions_slug",
                schema: "platform",
                table: "functions",
                column: "slug",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_runs_event_id",
                schema: "platform",
                table: "runs",
                column: "event_id");

            migrationBuilder.CreateIndex(
                name: "ix_runs_function_id_event_id",
                schema: "platform",
                table: "runs",
                columns: new[] { "function_id", "event_id" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "ix_runs_function_id_id",
                schema: "platform",
                table: "runs",
                columns: new[] { "function_id", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_runs_movable",
                schema: "platform",
                table: "runs",
                column: "next_wake_at",
                filter: "status IN ('Queued','Running','Sleeping','Waiting')");

            migrationBuilder.CreateIndex(
                name: "ix_runs_status_id",
                schema: "platform",
                table: "runs",
                columns: new[] { "status", "id" });

            migrationBuilder.CreateIndex(
                name: "ix_waits_event_name_created_at",
                schema: "platform",
                table: "waits",
                columns: new[] { "event_name", "created_at" });

            migrationBuilder.CreateIndex(
                name: "ix_waits_run_id_step_id",
                schema: "platform",
                table: "waits",
                columns: new[] { "run_id", "step_id" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "attempts",
                schema: "platform");

            migrationBuilder.DropTable(
                name: "event_dedupe",
                schema: "platform");

            migrationBuilder.DropTable(
                name: "events",
                schema: "platform");

            migrationBuilder.DropTable(
                name: "steps",
                schema: "platform");

            migrationBuilder.DropTable(
                name: "waits",
                schema: "platform");

            migrationBuilder.DropTable(
                name: "runs",
                schema: "platform");

            migrationBuilder.DropTable(
                name: "functions",
                schema: "platform");

            migrationBuilder.DropTable(
                name: "apps",
                schema: "platform");

            migrationBuilder.DropSequence(
                name: "step_seq",
                schema: "platform");
        }
    }
}
