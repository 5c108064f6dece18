"""EC2, Auto Scaling and S3 behaviour grafted onto moto's classes (see emulator/README.md, Code map)."""
