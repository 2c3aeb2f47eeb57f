//! Placeholder until the engine exists; replaced below.
