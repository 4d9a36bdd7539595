"""WhatsApp accounts: one abstract adapter, one implementation per config `type`."""
