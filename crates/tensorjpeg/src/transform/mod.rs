//! Orthogonal transforms (stage 2). Filled in by the transform work.
