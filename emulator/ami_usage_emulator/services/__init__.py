"""Services moto lacks (Recycle Bin, Image Builder, Cost Explorer's GetReservationUtilization), served in
front of it on botocore's models (see emulator/README.md, Code map)."""
