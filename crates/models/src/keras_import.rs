//! Loading weights saved from Keras (`.npz` with `<layer>/<weight>` arrays in Keras layouts).

use std::collections::HashMap;
use std::path::Path;

use candle_core::Tensor;

use crate::error::{ModelError, Result};
use crate::sequential::{Params, Sequential};

impl Sequential {
    /// Loads Keras weights from an `.npz` whose arrays are named `<layer>/<weight>`: Conv2D
    /// `kernel` `(kh, kw, in, out)` and `bias`, Dense `kernel` `(in, out)` and `bias`,
    /// BatchNormalization `gamma`, `beta`, `moving_mean`, `moving_variance`. Layers are matched by
    /// name; other arrays in the file are ignored. Every weight of the model must be present with
    /// the right shape, or nothing is changed and the error names the first mismatch.
    pub fn load_keras_npz(&mut self, path: impl AsRef<Path>) -> Result<()> {
        self.load_keras_npz_prefixed(path, "")
    }

    /// As [`Sequential::load_keras_npz`], for arrays named `<prefix><layer>/<weight>` (e.g. the
    /// training fixtures' `initial/` and `after_step1/`).
    pub fn load_keras_npz_prefixed(&mut self, path: impl AsRef<Path>, prefix: &str) -> Result<()> {
        let path = path.as_ref();
        if !path.is_file() {
            return Err(ModelError::File { path: path.display().to_string(), reason: "no such file".into() });
        }
        let arrays: HashMap<String, Tensor> = Tensor::read_npz(path)
            .map_err(|e| ModelError::File { path: path.display().to_string(), reason: e.to_string() })?
            .into_iter()
            .collect();
        // Check everything first, then assign, so a bad file leaves the model as it was.
        let mut assignments = Vec::new();
        for layer in self.layers() {
            for (wname, var) in layer.weights() {
                let key = format!("{prefix}{}/{}", layer.name(), wname);
                let array = arrays
                    .get(&key)
                    .ok_or_else(|| ModelError::WeightMismatch(format!("'{key}' is missing from {}", path.display())))?;
                let value = match (&layer.params, wname) {
                    (Params::Conv { .. }, "kernel") => array.permute((3, 2, 0, 1))?.contiguous()?,
                    _ => array.clone(),
                };
                if value.dims() != var.dims() {
                    return Err(ModelError::WeightMismatch(format!(
                        "'{key}': the file has shape {:?} (Keras layout), the model needs {:?}",
                        array.dims(),
                        match (&layer.params, wname) {
                            (Params::Conv { .. }, "kernel") => {
                                let d = var.dims();
                                vec![d[2], d[3], d[1], d[0]]
                            }
                            _ => var.dims().to_vec(),
                        }
                    )));
                }
                assignments.push((var.clone(), value.to_device(self.device())?.to_dtype(candle_core::DType::F32)?));
            }
        }
        for (var, value) in assignments {
            var.set(&value)?;
        }
        Ok(())
    }
}

impl Sequential {
    /// Every weight in Keras's naming (`<layer>/<weight>`) and Keras's layouts (Conv2D kernels
    /// `(kh, kw, in, out)`), e.g. to compare with or hand back to Keras.
    ///
    /// ```
    /// use candle_core::Device;
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::image(8, 8, 3), &Device::Cpu);
    /// m.add(Conv2D::new(4, (3, 3))).unwrap();
    /// let w = m.keras_weights().unwrap();
    /// assert_eq!(w[0].0, "conv2d/kernel");
    /// assert_eq!(w[0].1.dims(), &[3, 3, 3, 4]);
    /// ```
    pub fn keras_weights(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for layer in self.layers() {
            for (wname, var) in layer.weights() {
                let t = match (&layer.params, wname) {
                    (Params::Conv { .. }, "kernel") => var.as_tensor().permute((2, 3, 1, 0))?.contiguous()?,
                    _ => var.as_tensor().clone(),
                };
                out.push((format!("{}/{}", layer.name(), wname), t));
            }
        }
        Ok(out)
    }
}
