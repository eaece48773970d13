//! PDF courseware, rendered to one PNG per page on the server by poppler's `pdftoppm` (Debian's
//! `poppler-utils`), so that every classroom receives plain images it fetches ahead, as for slides
//! uploaded as images.
//!
//! Why here and not in the browser: pdf.js is about a megabyte of script that every lesson page
//! would load, and rendering each page in each classroom is work done a hundred times over; why a
//! program and not a crate: no Rust crate renders PDF by itself (`pdfium-render` needs the pdfium
//! library, MuPDF's bindings build a C library from source). The renderer runs with a time limit,
//! a page limit, and in a directory of its own that is removed afterwards.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tongbu_schedule::courseware::MAX_PAGES;

/// The renderer, found on `PATH`.
pub const PDFTOPPM: &str = "pdftoppm";
/// How long one PDF may take to render.
pub const RENDER_LIMIT: Duration = Duration::from_secs(60);
/// A page's longer side, pixels: sharp on a classroom's 1080p projector.
pub const LONG_SIDE_PX: u32 = 1920;

/// Whether the bytes are a PDF.
pub fn is_pdf(bytes: &[u8]) -> bool {
    bytes.starts_with(b"%PDF-")
}

/// Why a PDF gave no pages.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PdfError {
    #[error(
        "PDF courseware needs poppler-utils on the server (apt install poppler-utils); \
         until then, export the slides as images"
    )]
    NoRenderer,
    #[error("this PDF could not be read ({0}); export the slides as images")]
    Unreadable(String),
    #[error("rendering the PDF took over {} s; split it, or export the slides as images", RENDER_LIMIT.as_secs())]
    TooSlow,
    #[error("the PDF has more than {MAX_PAGES} pages; split it")]
    TooManyPages,
}

/// Renders every page of `pdf` as a PNG, in order.
pub async fn render(pdf: &[u8]) -> Result<Vec<Vec<u8>>, PdfError> {
    let dir = Scratch::new().map_err(|e| PdfError::Unreadable(e.to_string()))?;
    let input = dir.0.join("deck.pdf");
    tokio::fs::write(&input, pdf)
        .await
        .map_err(|e| PdfError::Unreadable(e.to_string()))?;
    let mut command = tokio::process::Command::new(PDFTOPPM);
    command
        .arg("-png")
        .arg("-scale-to")
        .arg(LONG_SIDE_PX.to_string())
        // One page more than a deck may hold tells a PDF that is too long.
        .arg("-l")
        .arg((MAX_PAGES + 1).to_string())
        .arg(&input)
        .arg(dir.0.join("page"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command.spawn().map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => PdfError::NoRenderer,
        _ => PdfError::Unreadable(e.to_string()),
    })?;
    let out = tokio::time::timeout(RENDER_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| PdfError::TooSlow)?
        .map_err(|e| PdfError::Unreadable(e.to_string()))?;
    if !out.status.success() {
        let why = String::from_utf8_lossy(&out.stderr);
        let why = why.lines().last().unwrap_or("no pages").trim();
        return Err(PdfError::Unreadable(why.to_string()));
    }
    let pages = pages_in(&dir.0).map_err(|e| PdfError::Unreadable(e.to_string()))?;
    if pages.len() > MAX_PAGES {
        return Err(PdfError::TooManyPages);
    }
    if pages.is_empty() {
        return Err(PdfError::Unreadable("it has no pages".into()));
    }
    let mut images = Vec::with_capacity(pages.len());
    for p in pages {
        images.push(
            tokio::fs::read(p)
                .await
                .map_err(|e| PdfError::Unreadable(e.to_string()))?,
        );
    }
    Ok(images)
}

/// The rendered pages (`page-1.png`, `page-02.png`, …: the width of the number varies with the
/// page count) in page order.
fn pages_in(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut pages: Vec<(u32, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let n = name
                .strip_prefix("page-")?
                .strip_suffix(".png")?
                .parse()
                .ok()?;
            Some((n, e.path()))
        })
        .collect();
    pages.sort();
    Ok(pages.into_iter().map(|(_, p)| p).collect())
}

/// A directory of its own for one rendering, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Self> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "tongbu-pdf-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_come_in_page_order_whatever_the_width_of_their_number() {
        let dir = Scratch::new().unwrap();
        for n in ["page-10.png", "page-02.png", "page-1.png", "other.png"] {
            std::fs::write(dir.0.join(n), b"x").unwrap();
        }
        let names: Vec<_> = pages_in(&dir.0)
            .unwrap()
            .iter()
            .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["page-1.png", "page-02.png", "page-10.png"]);
        assert!(is_pdf(b"%PDF-1.7\n"));
        assert!(!is_pdf(b"\x89PNG"));
    }
}
