using Microsoft.EntityFrameworkCore;

namespace Platform.Executor.Storage;

/// <summary>The platform's schema. Hot paths (ingest, claim, commit) use raw SQL on the same tables.</summary>
public sealed class PlatformDbContext(DbContextOptions<PlatformDbContext> options) : DbContext(options)
{
    public DbSet<AppRecord> Apps => Set<AppRecord>();
    public DbSet<FunctionRecord> Functions => Set<FunctionRecord>();
    public DbSet<EventRecord> Events => Set<EventRecord>();
    public DbSet<EventDedupeRecord> EventDedupe => Set<EventDedupeRecord>();
    public DbSet<RunRecord> Runs => Set<RunRecord>();
    public DbSet<StepRecord> Steps => Set<StepRecord>();
    public DbSet<AttemptRecord> Attempts => Set<AttemptRecord>();
    public DbSet<WaitRecord> Waits => Set<WaitRecord>();
    public DbSet<RunOutboxRecord> RunOutbox => Set<RunOutboxRecord>();
    public DbSet<CronTickRecord> CronTicks => Set<CronTickRecord>();
    public DbSet<IdempotencyKeyRecord> IdempotencyKeys => Set<IdempotencyKeyRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.HasDefaultSchema("platform");
        modelBuilder.HasSequence<long>("step_seq");

        modelBuilder.Entity<AppRecord>(e =>
        {
            e.ToTable("apps");
            e.HasIndex(x => x.Name).IsUnique();
        });

        modelBuilder.Entity<FunctionRecord>(e =>
        {
            e.ToTable("functions");
            e.HasIndex(x => x.Slug).IsUnique();
            e.HasIndex(x => x.AppId);
            e.Property(x => x.Triggers).HasColumnType("jsonb");
            e.Property(x => x.Config).HasColumnType("jsonb");
            e.HasOne<AppRecord>().WithMany().HasForeignKey(x => x.AppId).OnDelete(DeleteBehavior.Restrict);
        });

        modelBuilder.Entity<EventRecord>(e =>
        {
            e.ToTable("events");
            e.HasKey(x => x.Id);
            e.Property(x => x.Data).HasColumnType("jsonb");
            e.Property(x => x.User).HasColumnType("jsonb");
            e.HasIndex(x => x.EventId);
            e.HasIndex(x => new { x.Name, x.Id });
        });

        modelBuilder.Entity<EventDedupeRecord>(e =>
        {
            e.ToTable("event_dedupe");
            e.HasKey(x => x.EventId);
            e.HasIndex(x => x.ExpiresAt);
        });

        modelBuilder.Entity<RunRecord>(e =>
        {
            e.ToTable("runs");
            e.HasKey(x => x.Id);
            e.Property(x => x.State).HasColumnType("jsonb");
            e.Property(x => x.Output).HasColumnType("jsonb");
            e.Property(x => x.Error).HasColumnType("jsonb");
            e.Property(x => x.Version).IsConcurrencyToken();
            // One run per (function, event): the run-level dedupe of invariant 2. Reruns (a new run of the same
            // event, asked for explicitly) are outside it; ingest's ON CONFLICT names the same predicate.
            e.HasIndex(x => new { x.FunctionId, x.EventId }).IsUnique().HasFilter("rerun_of_run_id IS NULL");
            e.HasIndex(x => x.RerunOfRunId).HasFilter("rerun_of_run_id IS NOT NULL");
            e.HasOne<RunRecord>().WithMany().HasForeignKey(x => x.RerunOfRunId).OnDelete(DeleteBehavior.Restrict);
            e.HasIndex(x => x.EventId);
            e.HasIndex(x => new { x.FunctionId, x.Id });
            e.HasIndex(x => new { x.Status, x.Id });
            // The sweeper's and the waker's scan: only runs that can still move.
            e.HasIndex(x => x.NextWakeAt)
                .HasFilter("status IN ('Queued','Running','Sleeping','Waiting')")
                .HasDatabaseName("ix_runs_movable");
            e.HasOne<FunctionRecord>().WithMany().HasForeignKey(x => x.FunctionId).OnDelete(DeleteBehavior.Restrict);
        });

        modelBuilder.Entity<StepRecord>(e =>
        {
            e.ToTable("steps");
            // Unique per (run, step): a step's output is stored once (invariant 3).
            e.HasKey(x => new { x.RunId, x.StepId });
            e.Property(x => x.Output).HasColumnType("jsonb");
            e.Property(x => x.Seq).HasDefaultValueSql("nextval('platform.step_seq')");
            e.HasOne<RunRecord>().WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<AttemptRecord>(e =>
        {
            e.ToTable("attempts");
            e.Property(x => x.Error).HasColumnType("jsonb");
            e.HasIndex(x => new { x.RunId, x.Id });
            e.HasOne<RunRecord>().WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<WaitRecord>(e =>
        {
            e.ToTable("waits");
            e.HasIndex(x => new { x.EventName, x.CreatedAt });
            e.HasIndex(x => new { x.RunId, x.StepId }).IsUnique();
            e.HasIndex(x => x.InvokedRunId).IsUnique().HasFilter("invoked_run_id IS NOT NULL");
            e.HasOne<RunRecord>().WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<RunOutboxRecord>(e =>
        {
            e.ToTable("run_outbox");
            e.HasKey(x => x.RunId);
            // The publisher's scan: only what is still to send.
            e.HasIndex(x => x.CreatedAt).HasFilter("published_at IS NULL").HasDatabaseName("ix_run_outbox_pending");
            e.HasOne<RunRecord>().WithMany().HasForeignKey(x => x.RunId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<CronTickRecord>(e =>
        {
            e.ToTable("cron_ticks");
            // One run per (function, tick), whatever the number of platform processes.
            e.HasKey(x => new { x.FunctionId, x.TickAt });
            e.HasIndex(x => x.TickAt);
            e.HasOne<FunctionRecord>().WithMany().HasForeignKey(x => x.FunctionId).OnDelete(DeleteBehavior.Cascade);
        });

        modelBuilder.Entity<IdempotencyKeyRecord>(e =>
        {
            e.ToTable("idempotency_keys");
            // One run per (function, key) while the key's window lasts.
            e.HasKey(x => new { x.FunctionId, x.Key });
            e.HasIndex(x => x.ExpiresAt);
            e.HasOne<FunctionRecord>().WithMany().HasForeignKey(x => x.FunctionId).OnDelete(DeleteBehavior.Cascade);
        });
    }
}
