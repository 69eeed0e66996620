"""Pure shaping: KIS answers (JSON strings) into typed frames, and KIS's master files parsed."""
