"""Conversation logic, channel-neutral: flows, states and the texts users read.

Imports `npki` and `storage`, never a chat library; see ARCHITECTURE.md.
"""
