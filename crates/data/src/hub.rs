//! Files from the Hugging Face hub through `hf-hub`: read from the local hub cache
//! (`<cache>/datasets--owner--name/snapshots/<rev>/<file>`, `refs/<revision>`) without network;
//! downloaded only when the crate is built with the `hub-download` feature and `HF_HUB_OFFLINE`
//! is not set.

use std::path::PathBuf;

use hf_hub::{Cache, Repo, RepoType};

use crate::error::{DataError, Result};

/// Where a hub file lives (builder style).
///
/// ```
/// use candlebook_data::HubFile;
/// let f = HubFile::dataset("uoft-cs/cifar10", "plain_text/test-00000-of-00001.parquet").cache_dir("/tmp/hub");
/// assert_eq!(f.revision, "main");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubFile {
    /// `owner/name`.
    pub repo: String,
    /// A model or a dataset repository.
    pub dataset: bool,
    /// Branch, tag or commit (default `main`).
    pub revision: String,
    /// The file inside the repository.
    pub file: String,
    /// The hub cache folder (default: `HF_HUB_CACHE`, else `HF_HOME/hub`, else
    /// `~/.cache/huggingface/hub`).
    pub cache_dir: Option<PathBuf>,
}

impl HubFile {
    /// A file of a dataset repository at `main`.
    pub fn dataset(repo: impl Into<String>, file: impl Into<String>) -> Self {
        Self { repo: repo.into(), dataset: true, revision: "main".into(), file: file.into(), cache_dir: None }
    }
    /// Sets the revision.
    pub fn revision(mut self, r: impl Into<String>) -> Self {
        self.revision = r.into();
        self
    }
    /// Sets the hub cache folder.
    pub fn cache_dir(mut self, d: impl Into<PathBuf>) -> Self {
        self.cache_dir = Some(d.into());
        self
    }

    /// The hub cache folder used.
    pub fn cache_path(&self) -> PathBuf {
        if let Some(d) = &self.cache_dir {
            return d.clone();
        }
        match std::env::var_os("HF_HUB_CACHE").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d),
            None => Cache::from_env().path().clone(),
        }
    }

    fn repo(&self) -> Repo {
        let kind = if self.dataset { RepoType::Dataset } else { RepoType::Model };
        Repo::with_revision(self.repo.clone(), kind, self.revision.clone())
    }

    /// The cached copy, if the cache holds one (no network).
    pub fn cached(&self) -> Option<PathBuf> {
        Cache::new(self.cache_path()).repo(self.repo()).get(&self.file)
    }

    /// The local path of the file: the cached copy, else a download (only with the
    /// `hub-download` feature and without `HF_HUB_OFFLINE`), else [`DataError::HubMissing`].
    pub fn get(&self) -> Result<PathBuf> {
        if let Some(p) = self.cached() {
            return Ok(p);
        }
        let missing = |why: String| DataError::HubMissing { repo: self.repo.clone(), file: self.file.clone(), cache: self.cache_path(), why };
        if offline() {
            return Err(missing("HF_HUB_OFFLINE is set, so nothing is downloaded".into()));
        }
        self.download().map_err(missing)
    }

    #[cfg(feature = "hub-download")]
    fn download(&self) -> std::result::Result<PathBuf, String> {
        let api = hf_hub::api::sync::ApiBuilder::from_cache(Cache::new(self.cache_path())).build().map_err(|e| e.to_string())?;
        api.repo(self.repo()).get(&self.file).map_err(|e| format!("download failed: {e}"))
    }

    #[cfg(not(feature = "hub-download"))]
    fn download(&self) -> std::result::Result<PathBuf, String> {
        Err("this build reads the hub cache only (candlebook-data's `hub-download` feature is off); fetch it with scripts/download-data".into())
    }
}

/// True when `HF_HUB_OFFLINE` is set to a true value (`1`, `true`, `yes`, `on`).
pub fn offline() -> bool {
    std::env::var("HF_HUB_OFFLINE").map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes" | "on")).unwrap_or(false)
}
