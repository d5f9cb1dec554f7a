"""Web Push alerts: VAPID keys, subscriptions and preferences, and the notifier that turns
bus events into encrypted pushes (RFC 8030/8291/8292, through pywebpush)."""
