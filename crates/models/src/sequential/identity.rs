//! Which build of this crate (and of the candle linked with it) made a layer's weights, and the
//! keys that tell variables apart whichever build made them.
//!
//! In a notebook, evcxr compiles every cell into its own shared library and links the cell's
//! dependencies into it statically: each cell runs its own copy of candle, with its own counter of
//! tensor ids, starting at 1. A model built in one cell and trained in another therefore holds
//! tensors whose [`candle_core::TensorId`]s repeat the ids the training cell hands out (and a model
//! whose layers were added in different cells holds repeated ids itself). Candle's autograd keys
//! its gradients by those ids, so such a graph sums the gradients of unrelated tensors (seen as
//! "shape mismatch in add" in `backward`, or as silently wrong gradients). The training code
//! therefore keys optimiser state by [`VarKey`] and builds each autograd graph only from tensors
//! of the build that runs it (see `Sequential::autograd_step`).

use candle_core::{TensorId, Var};

/// The build of this crate that runs the call: the address of a static of this copy of the crate.
/// Two copies loaded in one process (two notebook cells) give two different values.
pub(crate) fn this_build() -> usize {
    static MARK: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    &MARK as *const _ as usize
}

/// Tells one variable from another for as long as it lives, even when two variables made by
/// different builds of candle carry the same [`TensorId`]: the address of the variable's shared
/// tensor (unique among live tensors) together with its id (so a later variable allocated where a
/// dropped one lived is still a different key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct VarKey(usize, TensorId);

impl VarKey {
    pub(crate) fn of(var: &Var) -> VarKey {
        let t = var.as_tensor();
        let shared: *const _ = &**t;
        VarKey(shared as *const u8 as usize, t.id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};

    #[test]
    fn a_variable_keeps_its_key_and_another_variable_has_another() {
        let a = Var::zeros(3, DType::F32, &Device::Cpu).unwrap();
        let b = Var::zeros(3, DType::F32, &Device::Cpu).unwrap();
        assert_eq!(VarKey::of(&a), VarKey::of(&a.clone()));
        a.set(&candle_core::Tensor::ones(3, DType::F32, &Device::Cpu).unwrap()).unwrap();
        assert_eq!(VarKey::of(&a), VarKey::of(&a.clone()), "updating a variable in place keeps its key");
        assert_ne!(VarKey::of(&a), VarKey::of(&b));
    }

    #[test]
    fn this_build_is_stable_within_a_build() {
        assert_eq!(this_build(), this_build());
        assert_ne!(this_build(), 0);
    }
}
