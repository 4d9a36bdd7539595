"""WhatsApp Web accounts (`type: whatsmeow`) through neonize; neonize is imported in `bindings` only."""
