"""EC2 image usage reports: the emulator's own model, store and usage computation (moto has none)."""
