"""adscore: the warehouse-native training pipeline for the Ad Score predictor."""

__version__ = "0.1.0"
