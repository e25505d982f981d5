// Platform hosts in one process share Hangfire's static configuration, and the end-to-end tests are timed in
// seconds on a busy machine: run test classes one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
