"""relay247: the real-time request broker of the 24/7 network of cybercrime contact points."""
