"""The browser bot: Teams, Google Meet and web meeting pages through a real Chromium."""
