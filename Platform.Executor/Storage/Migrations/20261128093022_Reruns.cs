using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Platform.Executor.Storage.Migrations
{
    /// <inheritdoc />
    public partial class Reruns : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_runs_function_id_event_id",
                schema: "platform",
                table: "runs");

            migrationBuilder.AddColumn<string>(
                name: "copied_from_run_id",
                schema: "platform",
                table: "steps",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "rerun_from_step_id",
                schema: "platform",
                table: "runs",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "rerun_of_run_id",
                schema: "platform",
                table: "runs",
                type: "text",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_runs_function_id_event_id",
                schema: "platform",
                table: "runs",
                columns: new[] { "function_id", "event_id" },
                unique: true,
                filter: "rerun_of_run_id IS NULL");

            migrationBuilder.CreateIndex(
                name: "ix_runs_rerun_of_run_id",
                schema: "platform",
                table: "runs",
                column: "rerun_of_run_id",
                filter: "rerun_of_run_id IS NOT NULL");

            migrationBuilder.AddForeignKey(
                name: "fk_runs_runs_rerun_of_run_id",
                schema: "platform",
                table: "runs",
                column: "rerun_of_run_id",
                principalSchema: "platform",
                principalTable: "runs",
                principalColumn: "id",
                onDelete: ReferentialAction.Restrict);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropForeignKey(
                name: "fk_runs_runs_rerun_of_run_id",
                schema: "platform",
                table: "runs");

            migrationBuilder.DropIndex(
                name: "ix_runs_function_id_event_id",
                schema: "platform",
                table: "runs");

            migrationBuilder.DropIndex(
                name: "ix_runs_rerun_of_run_id",
                schema: "platform",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "copied_from_run_id",
                schema: "platform",
                table: "steps");

            migrationBuilder.DropColumn(
                name: "rerun_from_step_id",
                schema: "platform",
                table: "runs");

            migrationBuilder.DropColumn(
                name: "rerun_of_run_id",
                schema: "platform",
                table: "runs");

            migrationBuilder.CreateIndex(
                name: "ix_runs_function_id_event_id",
                schema: "platform",
                table: "runs",
                columns: new[] { "function_id", "event_id" },
                unique: true);
        }
    }
}
