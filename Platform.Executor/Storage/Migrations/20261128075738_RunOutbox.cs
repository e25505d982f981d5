using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Platform.Executor.Storage.Migrations
{
    /// <inheritdoc />
    public partial class RunOutbox : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "run_outbox",
                schema: "platform",
                columns: table => new
                {
                    run_id = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    published_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_run_outbox", x => x.run_id);
                    table.ForeignKey(
                        name: "fk_run_outbox_runs_run_id",
                        column: x => x.run_id,
                        principalSchema: "platform",
                        principalTable: "runs",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_run_outbox_pending",
                schema: "platform",
                table: "run_outbox",
                column: "created_at",
                filter: "published_at IS NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "run_outbox",
                schema: "platform");
        }
    }
}
