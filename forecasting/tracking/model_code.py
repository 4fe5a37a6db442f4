"""Models-from-code entry point: MLflow executes this file to build the pyfunc when loading the model."""

from forecasting.tracking.flavor import set_pyfunc_model

set_pyfunc_model()
