"""Mail leaving Keyguard: the delivery worker and the relay it speaks SMTP to."""
