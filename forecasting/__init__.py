"""Forecasting: statsforecast and scikit-learn models, rolling-origin backtests, MLflow tracking."""
