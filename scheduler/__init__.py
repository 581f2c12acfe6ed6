"""Places pods on nodes through the scheduling framework; leader-elected."""
