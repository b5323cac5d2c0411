//! The switch that sends the CPU down the device path (`CANDLEBOOK_CPU_KERNELS=generic`): read
//! from the environment and said in the device line a notebook prints. `scripts/test` runs this
//! file with the Keras parity, Keras training-step (values made by Keras 3.15), gradient, fit and
//! seed-CNN training tests once with the switch and once without, so both paths meet the same
//! Keras references.

use candlebook_models::*;

#[test]
fn the_switch_is_read_from_the_environment_and_shown() {
    let generic = std::env::var(CPU_KERNELS_ENV).is_ok_and(|v| v == "generic");
    assert_eq!(fast_cpu_kernels(), !generic);
    let choice = choose_device();
    assert_eq!(choice.description.contains("generic device-path kernels"), generic, "{}", choice.description);
}
