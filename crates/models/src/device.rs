//! Picking the device to compute on.

use candle_core::utils::{cuda_is_available, metal_is_available};
use candle_core::Device;

/// Which device [`best_device`] picked, and why, for the one-line report.
///
/// ```
/// let choice = candlebook_models::choose_device();
/// println!("{}", choice.description);
/// ```
#[derive(Debug, Clone)]
pub struct DeviceChoice {
    /// The device itself.
    pub device: Device,
    /// A short human description, e.g. `"CUDA GPU 0"` or `"CPU (2 threads; built without cuda/metal)"`.
    pub description: String,
}

/// Chooses CUDA (GPU 0) when this build has the `cuda` feature and a GPU answers, then Metal,
/// then the CPU, and says which in one line.
///
/// ```
/// let choice = candlebook_models::choose_device();
/// # #[cfg(not(any(feature = "cuda", feature = "metal")))]
/// assert!(choice.device.is_cpu());
/// assert!(!choice.description.is_empty());
/// ```
pub fn choose_device() -> DeviceChoice {
    let mut notes = Vec::new();
    if cuda_is_available() {
        match Device::new_cuda(0) {
            Ok(device) => return DeviceChoice { device, description: "CUDA GPU 0".into() },
            Err(e) => notes.push(format!("CUDA build but no usable GPU: {}", first_line(&e))),
        }
    }
    if metal_is_available() {
        match Device::new_metal(0) {
            Ok(device) => return DeviceChoice { device, description: "Metal GPU 0".into() },
            Err(e) => notes.push(format!("Metal build but no usable GPU: {}", first_line(&e))),
        }
    }
    if notes.is_empty() {
        notes.push("built without the cuda/metal features".into());
    }
    let threads = candle_core::utils::get_num_threads();
    if !crate::cpu::fast_cpu_kernels() {
        notes.push("generic device-path kernels (CANDLEBOOK_CPU_KERNELS=generic)".into());
    }
    DeviceChoice { device: Device::Cpu, description: format!("CPU ({threads} threads; {})", notes.join("; ")) }
}

/// An error's first line: candle appends a backtrace to its errors when `RUST_BACKTRACE` is set,
/// and the device report is one line.
fn first_line(e: &candle_core::Error) -> String {
    e.to_string().lines().next().unwrap_or_default().trim_end().to_string()
}

/// [`choose_device`], printing `device: <what was picked>` and returning the device.
///
/// ```
/// let device = candlebook_models::best_device();
/// let x = candle_core::Tensor::ones(3, candle_core::DType::F32, &device).unwrap();
/// assert_eq!(x.dims(), &[3]);
/// ```
pub fn best_device() -> Device {
    let choice = choose_device();
    println!("device: {}", choice.description);
    choice.device
}
