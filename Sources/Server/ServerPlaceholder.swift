// Placeholder so the module builds; replaced as the layer is written.
