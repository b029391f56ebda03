"""Drivers for the Pi's devices, each with a simulator of the same interface.

Owns the card reader (MFRC522 on SPI, with an emulated chip for tests), door I/O (strike
relay, contact, request-to-exit, LEDs, buzzer, tamper), the keypad and the kiosk's panic
button on gpiozero, the camera (OpenCV), the badge printer (python-escpos), their typed
configuration and errors, and :func:`hardware.devices.build_devices`, which picks real or
simulated drivers from config.

Must not import ``link``, ``controller``, ``kiosk`` or ``hub``.
"""
