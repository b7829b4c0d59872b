"""Training on Fashion-MNIST, the data-size sweep and its report, the benchmark, the zoo report."""
