//! The machine-oriented signal codec of seed 002, after WaLLoC (Jacobellis & Yoon):
//!
//! ```text
//! signal [C, spatial…] ──► WPT (J levels) ──► projection ──► compander ──► lossless coding
//!                          C·2^(J·D) bands     k channels     int8
//! ```
//!
//! 1. [`crate::transform::wpt`] splits every one of the `C` channels of a `D`-dimensional
//!    signal into `2^(J·D)` sub-bands (the full packet tree), giving `C·2^(J·D)` channels at
//!    `1/2^J` the resolution per axis.
//! 2. [`projection`] maps those channels, at every spatial position, to `k` latent channels
//!    with a linear map fitted by PCA (WaLLoC trains a 1×1 convolution; PCA is its
//!    closed-form, MSE-optimal linear counterpart) and back with the transpose plus mean.
//! 3. [`compander`] turns each latent value into an `i8` in `[−127, 127]` through WaLLoC's
//!    Gaussian-CDF compander (or a plain uniform quantizer), with a gain as the rate knob.
//! 4. The int8 latents are then coded losslessly.
//!
//! [`basis`] holds the fitted WPT + projection pair, [`codec`] the quantizers, latent coders,
//! rate control and file format, and [`latent_image`] WaLLoC's tiling of int8 latents into a
//! lossless image. The codecs it is compared against (JPEG, lossy WebP, plain downsampling,
//! PCM) are no part of this crate: they live with the evaluation, in
//! `tensorjpeg_eval::signal::peers`.
//!
//! The decoder is linear (the projection's transpose and the inverse WPT): WaLLoC's
//! 57 M-parameter neural decoder is out of scope and cannot be obtained here.

pub mod basis;
pub mod codec;
pub mod compander;
pub mod latent_image;
pub mod latent_rans;
pub mod projection;
