"""Shared settings for the medtriage packages (agents, finetune, knowledge, ui)."""
