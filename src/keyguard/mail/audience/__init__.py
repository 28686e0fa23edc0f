"""Contacts, lists, CSV import and suppressions: who mail may go to."""
