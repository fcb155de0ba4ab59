"""mbdsl: a hardware generator for quantized MobileNet-style CNNs."""
