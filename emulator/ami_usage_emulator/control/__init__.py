"""What the tests steer: the ``/_emulator/`` control API, faults, oddities, synthetic seeding."""
