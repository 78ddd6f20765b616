"""The shared core every stage stands on: params (config), artifact paths, atomic I/O,
the error base class, seeding, the language registry and the stage entry helper."""
