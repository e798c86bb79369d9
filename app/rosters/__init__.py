"""Duty rosters of the 24/7 contact points: who is on duty when."""
