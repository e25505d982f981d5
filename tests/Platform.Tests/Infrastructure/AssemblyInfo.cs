// Platform hosts in one process share Hangfire's static configuration; run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
