//! Saving and loading models: one safetensors file holding the weights and, in its metadata, the
//! architecture as JSON. Written atomically (temporary file + rename).

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;

use candle_core::{DType, Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::error::{ModelError, Result};
use crate::sequential::{InputShape, Sequential};
use crate::spec::LayerSpec;

const ARCH_KEY: &str = "candlebook.architecture";
const FORMAT_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct Architecture {
    format_version: u32,
    name: String,
    input: InputShape,
    layers: Vec<LayerEntry>,
}

#[derive(Serialize, Deserialize)]
struct LayerEntry {
    name: String,
    trainable: bool,
    spec: LayerSpec,
}

fn file_err(path: &Path, reason: impl ToString) -> ModelError {
    ModelError::File { path: path.display().to_string(), reason: reason.to_string() }
}

/// Writes `bytes` to `path` through a temporary file in the same folder and a rename, so a crash
/// never leaves half a file (also used by the plots crate for figures).
///
/// ```
/// let path = std::env::temp_dir().join("candlebook-doc-atomic.txt");
/// candlebook_models::write_atomic(&path, b"whole").unwrap();
/// assert_eq!(std::fs::read(&path).unwrap(), b"whole");
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl Sequential {
    fn weight_map(&self) -> Result<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for l in self.layers() {
            for (w, var) in l.weights() {
                out.push((format!("{}/{}", l.name(), w), var.as_tensor().to_device(&Device::Cpu)?.to_dtype(DType::F32)?));
            }
        }
        Ok(out)
    }

    /// Saves the model (architecture and weights, including batch-norm statistics and which layers
    /// are frozen) to one `.safetensors` file, atomically.
    ///
    /// ```
    /// use candle_core::{Device, Tensor};
    /// use candlebook_models::*;
    /// let mut m = Sequential::new(Input::flat(4), &Device::Cpu).seed(1);
    /// m.add(Dense::new(3).activation(Activation::Softmax))?;
    /// let path = std::env::temp_dir().join("candlebook-doc-model.safetensors");
    /// m.save(&path)?;
    /// let back = Sequential::load(&path, &Device::Cpu)?;
    /// let x = Tensor::new(&[[1f32, 2., 3., 4.]], &Device::Cpu)?;
    /// assert_eq!(m.predict(&x)?.to_vec2::<f32>()?, back.predict(&x)?.to_vec2::<f32>()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let arch = Architecture {
            format_version: FORMAT_VERSION,
            name: self.name().to_string(),
            input: self.input_shape(),
            layers: self
                .layers()
                .iter()
                .map(|l| {
                    let mut spec = l.spec().clone();
                    spec.set_name(l.name());
                    LayerEntry { name: l.name().to_string(), trainable: l.is_trainable(), spec }
                })
                .collect(),
        };
        let json = serde_json::to_string(&arch).map_err(|e| file_err(path, e))?;
        let weights = self.weight_map()?;
        let meta = HashMap::from([(ARCH_KEY.to_string(), json)]);
        let bytes = safetensors::serialize(weights.iter().map(|(k, t)| (k.as_str(), t)), Some(meta)).map_err(|e| file_err(path, e))?;
        write_atomic(path, &bytes).map_err(|e| file_err(path, e))
    }

    /// Loads a model saved with [`Sequential::save`] onto `device`.
    pub fn load(path: impl AsRef<Path>, device: &Device) -> Result<Sequential> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| file_err(path, e))?;
        let (_, meta) = safetensors::SafeTensors::read_metadata(&bytes)
            .map_err(|e| file_err(path, format!("not a safetensors file ({e})")))?;
        let json = meta
            .metadata()
            .as_ref()
            .and_then(|m| m.get(ARCH_KEY))
            .ok_or_else(|| file_err(path, "no candlebook architecture in the file's metadata (weights only? use load_weights)"))?;
        let arch: Architecture = serde_json::from_str(json).map_err(|e| file_err(path, format!("architecture unreadable: {e}")))?;
        if arch.format_version != FORMAT_VERSION {
            return Err(file_err(path, format!("format version {} (this candlebook reads {FORMAT_VERSION})", arch.format_version)));
        }
        let mut model = Sequential::new(arch.input, device).with_name(arch.name);
        for entry in &arch.layers {
            model.add(entry.spec.clone())?;
            if !entry.trainable {
                model.set_trainable(&entry.name, false)?;
            }
        }
        model.load_weights_from_bytes(path, &bytes)?;
        Ok(model)
    }

    /// Loads weights saved by [`Sequential::save`] into this model. The file must hold every
    /// weight of this architecture with the same shape; otherwise nothing changes and the error
    /// names the first mismatching tensor and both shapes.
    pub fn load_weights(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| file_err(path, e))?;
        self.load_weights_from_bytes(path, &bytes)
    }

    fn load_weights_from_bytes(&mut self, path: &Path, bytes: &[u8]) -> Result<()> {
        let st = safetensors::SafeTensors::deserialize(bytes).map_err(|e| file_err(path, format!("not a safetensors file ({e})")))?;
        let mut assignments = Vec::new();
        for l in self.layers() {
            for (w, var) in l.weights() {
                let key = format!("{}/{}", l.name(), w);
                let view = st
                    .tensor(&key)
                    .map_err(|_| ModelError::WeightMismatch(format!("'{key}' is missing from {}", path.display())))?;
                if view.shape() != var.dims() {
                    return Err(ModelError::WeightMismatch(format!(
                        "'{key}': {} has shape {:?}, the model needs {:?}",
                        path.display(),
                        view.shape(),
                        var.dims()
                    )));
                }
                let t = candle_core::safetensors::Load::load(&view, self.device())?.to_dtype(DType::F32)?;
                assignments.push((var.clone(), t));
            }
        }
        for (var, t) in assignments {
            var.set(&t)?;
        }
        Ok(())
    }
}
