"""MeterHIL's own test kinds, one package per family; each kind registered as a plugin (entry-point group
``meterhil.kinds`` in pyproject.toml) exactly as a lab's own kind would be. A family imports the core
(``hil.core``) and the shared libraries (``hil.standards``, ``hil.measure``, ``hil.reliability``,
``hil.reporting``), never another family."""
