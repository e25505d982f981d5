using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Platform.Executor.Storage.Migrations
{
    /// <inheritdoc />
    public partial class CronTicks : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "cron_ticks",
                schema: "platform",
                columns: table => new
                {
                    function_id = table.Column<Guid>(type: "uuid", nullable: false),
                    tick_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false),
                    run_id = table.Column<string>(type: "text", nullable: false),
                    created_at = table.Column<DateTimeOffset>(type: "timestamp with time zone", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("pk_cron_ticks", x => new { x.function_id, x.tick_at });
                    table.ForeignKey(
                        name: "fk_cron_ticks_functions_function_id",
                        column: x => x.function_id,
                        principalSchema: "platform",
                        principalTable: "functions",
                        principalColumn: "id",
                        onDelete: ReferentialAction.Cascade);
                });

            migrationBuilder.CreateIndex(
                name: "ix_cron_ticks_tick_at",
                schema: "platform",
                table: "cron_ticks",
                column: "tick_at");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "cron_ticks",
                schema: "platform");
        }
    }
}
