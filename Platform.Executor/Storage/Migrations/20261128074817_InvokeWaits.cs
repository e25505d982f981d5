using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Platform.Executor.Storage.Migrations
{
    /// <inheritdoc />
    public partial class InvokeWaits : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "invoked_run_id",
                schema: "platform",
                table: "waits",
                type: "text",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "step_name",
                schema: "platform",
                table: "waits",
                type: "text",
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "ix_waits_invoked_run_id",
                schema: "platform",
                table: "waits",
                column: "invoked_run_id",
                unique: true,
                filter: "invoked_run_id IS NOT NULL");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "ix_waits_invoked_run_id",
                schema: "platform",
                table: "waits");

            migrationBuilder.DropColumn(
                name: "invoked_run_id",
                schema: "platform",
                table: "waits");

            migrationBuilder.DropColumn(
                name: "step_name",
                schema: "platform",
                table: "waits");
        }
    }
}
