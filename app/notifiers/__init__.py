"""Receiver integrations: each module turns a notification into one delivery."""
