"""What a run tells: StatsManager (counters per second), its exports, and logging with secret
redaction."""
