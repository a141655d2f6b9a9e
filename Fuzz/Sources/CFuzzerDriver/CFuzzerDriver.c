// Intentionally empty: the target only exports the header above (SwiftPM needs one source file per C target).
