//! A small, safe wrapper over libvpx for realtime VP8: an [`Encoder`] (I420 in, encoded frames
//! out, keyframes on request) and a [`Decoder`] (used to verify what the encoder produced).
//!
//! # Why this crate holds the workspace's only `unsafe`
//!
//! The workspace forbids `unsafe` code. Talking to libvpx needs FFI, and the safe crate that
//! exists for it (`vpx-encode`) does not fit a realtime WebRTC sender: it cannot force a
//! keyframe (needed to answer a receiver's keyframe request, and to build banks of independently
//! decodable frames) and it hard-codes 8 encoder threads (this server runs many encoders on a
//! small machine and wants exactly one each). So the FFI lives here, behind a narrow API whose
//! every `unsafe` block states the invariant it relies on, and the rest of the workspace stays
//! `unsafe`-free.
//!
//! The raw bindings come from `env-libvpx-sys` (crate name `vpx_sys`), built against the system
//! libvpx found by pkg-config (Debian: `libvpx-dev`).

use std::ffi::{c_int, c_long, c_uint, c_ulong, CStr};
use std::fmt;
use std::mem::MaybeUninit;
use std::ptr;

use vpx_sys as ffi;

/// Everything that can go wrong while configuring or running the codec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Error {
    /// The configuration was rejected before libvpx saw it (zero or odd sizes, zero fps, ...).
    Config(String),
    /// The input buffer does not have the length an I420 frame of the configured size needs.
    FrameSize {
        /// Bytes an I420 frame of the configured size occupies.
        expected: usize,
        /// Bytes that were passed in.
        actual: usize,
    },
    /// libvpx returned an error code.
    Codec {
        /// The libvpx call that failed.
        call: &'static str,
        /// libvpx's description of the failure.
        message: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Config(msg) => write!(f, "invalid VP8 configuration: {msg}"),
            Error::FrameSize { expected, actual } => {
                write!(f, "I420 frame has {actual} bytes, expected {expected}")
            }
            Error::Codec { call, message } => write!(f, "{call} failed: {message}"),
        }
    }
}

impl std::error::Error for Error {}

/// Bytes of a tightly packed I420 frame: a full-size Y plane and two half-size chroma planes.
pub fn i420_len(width: u32, height: u32) -> usize {
    let (w, h) = (width as usize, height as usize);
    w * h + 2 * (w.div_ceil(2) * h.div_ceil(2))
}

/// Encoder settings. [`EncoderConfig::realtime`] gives the values a live WebRTC sender wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Frame width in pixels (even).
    pub width: u32,
    /// Frame height in pixels (even).
    pub height: u32,
    /// Frames per second; also the encoder's timebase (one tick per frame).
    pub fps: u32,
    /// Constant-bitrate target in kbit/s.
    pub bitrate_kbps: u32,
    /// Lowest quantizer the rate control may pick (0..=63, lower = better quality).
    pub min_quantizer: u32,
    /// Highest quantizer the rate control may pick (0..=63). Setting it equal to
    /// `min_quantizer` pins the quality, which keeps a bank of keyframes visually consistent.
    pub max_quantizer: u32,
    /// libvpx `cpu-used` speed setting (0..=16 for realtime; higher is faster).
    pub cpu_used: i32,
    /// Longest distance between automatic keyframes, in frames.
    pub keyframe_interval: u32,
}

impl EncoderConfig {
    /// Realtime settings for a live stream: CBR, no lookahead, fast speed, one thread, a
    /// keyframe at least every three seconds.
    pub fn realtime(width: u32, height: u32, fps: u32, bitrate_kbps: u32) -> EncoderConfig {
        EncoderConfig {
            width,
            height,
            fps,
            bitrate_kbps,
            min_quantizer: 4,
            max_quantizer: 56,
            cpu_used: 12,
            keyframe_interval: fps.saturating_mul(3).max(1),
        }
    }

    fn validate(&self) -> Result<(), Error> {
        if self.width == 0 || self.height == 0 || self.width > 4096 || self.height > 4096 {
            return Err(Error::Config(format!(
                "size {}x{} is outside 1..=4096",
                self.width, self.height
            )));
        }
        // libvpx derives the chroma stride of a wrapped image as `stride >> 1`, which is only
        // right for even widths; even heights keep the two chroma planes exactly half size.
        if self.width % 2 != 0 || self.height % 2 != 0 {
            return Err(Error::Config(format!(
                "size {}x{} must be even in both directions",
                self.width, self.height
            )));
        }
        if self.fps == 0 || self.fps > 240 {
            return Err(Error::Config(format!(
                "fps {} is outside 1..=240",
                self.fps
            )));
        }
        if self.bitrate_kbps == 0 {
            return Err(Error::Config("bitrate must be positive".to_owned()));
        }
        if self.min_quantizer > self.max_quantizer || self.max_quantizer > 63 {
            return Err(Error::Config(format!(
                "quantizer range {}..={} is not within 0..=63",
                self.min_quantizer, self.max_quantizer
            )));
        }
        if !(-16..=16).contains(&self.cpu_used) {
            return Err(Error::Config(format!(
                "cpu_used {} is outside -16..=16",
                self.cpu_used
            )));
        }
        Ok(())
    }
}

/// One compressed VP8 frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame {
    /// The VP8 bitstream of the frame (an RTP packetizer splits it further).
    pub data: Vec<u8>,
    /// True when the frame is a keyframe (decodable without any earlier frame).
    pub keyframe: bool,
    /// Presentation timestamp in frames since the encoder was created.
    pub pts: i64,
}

/// Reads libvpx's message for the last error on `ctx`, falling back to the code's description.
fn codec_error(
    ctx: &mut ffi::vpx_codec_ctx_t,
    call: &'static str,
    code: ffi::vpx_codec_err_t,
) -> Error {
    // SAFETY: `ctx` is a valid context (initialised or zeroed); both functions return either
    // null or a pointer to a static, NUL-terminated string owned by libvpx, which we copy out
    // before any other libvpx call can change it.
    let message = unsafe {
        let detail = ffi::vpx_codec_error(ctx);
        let text = if detail.is_null() {
            ffi::vpx_codec_err_to_string(code)
        } else {
            detail
        };
        if text.is_null() {
            format!("libvpx error {}", code as i32)
        } else {
            CStr::from_ptr(text).to_string_lossy().into_owned()
        }
    };
    Error::Codec { call, message }
}

/// A realtime VP8 encoder with one thread.
pub struct Encoder {
    // Boxed so the addresses libvpx may keep (the context, and the configuration it was
    // initialised from) stay fixed when the `Encoder` moves.
    ctx: Box<ffi::vpx_codec_ctx_t>,
    _cfg: Box<ffi::vpx_codec_enc_cfg_t>,
    width: u32,
    height: u32,
    next_pts: i64,
}

// SAFETY: a libvpx encoder context has no thread affinity (no thread-local state, no callbacks
// into the creating thread); it only must not be used from two threads at once, which `&mut self`
// on every method already guarantees. So moving it to another thread is sound.
unsafe impl Send for Encoder {}

impl Encoder {
    /// Creates an encoder with the given settings.
    pub fn new(config: &EncoderConfig) -> Result<Encoder, Error> {
        config.validate()?;
        // SAFETY: `vpx_codec_enc_cfg_t` is a plain C struct of integers, arrays and raw pointers,
        // for which all-zero bytes are a valid value; `vpx_codec_enc_config_default` then fills
        // in every field for the VP8 interface returned by `vpx_codec_vp8_cx`, which is a
        // pointer to a static interface table.
        let mut cfg: Box<ffi::vpx_codec_enc_cfg_t> = unsafe {
            let mut cfg = Box::new(MaybeUninit::<ffi::vpx_codec_enc_cfg_t>::zeroed().assume_init());
            let code = ffi::vpx_codec_enc_config_default(ffi::vpx_codec_vp8_cx(), &mut *cfg, 0);
            if code != ffi::vpx_codec_err_t::VPX_CODEC_OK {
                return Err(Error::Codec {
                    call: "vpx_codec_enc_config_default",
                    message: format!("libvpx error {}", code as i32),
                });
            }
            cfg
        };
        cfg.g_w = config.width;
        cfg.g_h = config.height;
        cfg.g_timebase = ffi::vpx_rational {
            num: 1,
            den: config.fps as c_int,
        };
        cfg.g_threads = 1;
        cfg.g_lag_in_frames = 0;
        cfg.g_pass = ffi::vpx_enc_pass::VPX_RC_ONE_PASS;
        cfg.g_error_resilient = ffi::VPX_ERROR_RESILIENT_DEFAULT;
        cfg.rc_end_usage = ffi::vpx_rc_mode::VPX_CBR;
        cfg.rc_target_bitrate = config.bitrate_kbps;
        cfg.rc_min_quantizer = config.min_quantizer;
        cfg.rc_max_quantizer = config.max_quantizer;
        // A realtime sender must never skip a frame: the receiver would stall on a hole.
        cfg.rc_dropframe_thresh = 0;
        cfg.rc_resize_allowed = 0;
        cfg.kf_mode = ffi::vpx_kf_mode::VPX_KF_AUTO;
        cfg.kf_min_dist = 0;
        cfg.kf_max_dist = config.keyframe_interval;

        // SAFETY: all-zero bytes are a valid `vpx_codec_ctx_t` (null pointers, OK error code);
        // it is the documented state to pass to `vpx_codec_enc_init_ver`.
        let mut ctx: Box<ffi::vpx_codec_ctx_t> =
            unsafe { Box::new(MaybeUninit::<ffi::vpx_codec_ctx_t>::zeroed().assume_init()) };
        // SAFETY: `ctx` and `cfg` are valid, boxed (stable addresses) and outlive the context:
        // both are stored in the returned `Encoder`, whose `Drop` destroys the context first.
        // The ABI version is the one the bindings were generated for.
        let code = unsafe {
            ffi::vpx_codec_enc_init_ver(
                &mut *ctx,
                ffi::vpx_codec_vp8_cx(),
                &*cfg,
                0,
                ffi::VPX_ENCODER_ABI_VERSION as c_int,
            )
        };
        if code != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(codec_error(&mut ctx, "vpx_codec_enc_init_ver", code));
        }
        let mut encoder = Encoder {
            ctx,
            _cfg: cfg,
            width: config.width,
            height: config.height,
            next_pts: 0,
        };
        encoder.control(ffi::vp8e_enc_control_id::VP8E_SET_CPUUSED, config.cpu_used)?;
        // Synthetic content has no camera noise to filter.
        encoder.control(ffi::vp8e_enc_control_id::VP8E_SET_NOISE_SENSITIVITY, 0)?;
        Ok(encoder)
    }

    fn control(&mut self, id: ffi::vp8e_enc_control_id, value: i32) -> Result<(), Error> {
        // SAFETY: the context is initialised (constructor succeeded); every VP8E_SET_* control
        // used here takes exactly one `int` variadic argument, which is what we pass.
        let code = unsafe { ffi::vpx_codec_control_(&mut *self.ctx, id as c_int, value as c_int) };
        if code != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(codec_error(&mut self.ctx, "vpx_codec_control", code));
        }
        Ok(())
    }

    /// Frame width in pixels.
    pub fn width(&self) -> u32 {
        self.width
    }

    /// Frame height in pixels.
    pub fn height(&self) -> u32 {
        self.height
    }

    /// Encodes one tightly packed I420 frame (Y, then U, then V; see [`i420_len`]). With
    /// `force_keyframe` the output is a keyframe. Returns the compressed frames libvpx produced
    /// for this input: with the realtime settings (no lookahead) that is exactly one.
    pub fn encode(
        &mut self,
        i420: &[u8],
        force_keyframe: bool,
    ) -> Result<Vec<EncodedFrame>, Error> {
        let expected = i420_len(self.width, self.height);
        if i420.len() != expected {
            return Err(Error::FrameSize {
                expected,
                actual: i420.len(),
            });
        }
        let mut image = MaybeUninit::<ffi::vpx_image_t>::zeroed();
        // SAFETY: `vpx_img_wrap` only records pointers into `i420` (no copy, no write) and
        // fills `image`; the length check above guarantees the buffer holds all three planes of
        // a `width` x `height` I420 frame with stride alignment 1. libvpx's encoder reads the
        // planes and never writes them, so handing it a pointer derived from a shared slice is
        // sound; the wrapped image does not outlive this call.
        let wrapped = unsafe {
            ffi::vpx_img_wrap(
                image.as_mut_ptr(),
                ffi::vpx_img_fmt::VPX_IMG_FMT_I420,
                self.width as c_uint,
                self.height as c_uint,
                1,
                i420.as_ptr().cast_mut(),
            )
        };
        if wrapped.is_null() {
            return Err(Error::Codec {
                call: "vpx_img_wrap",
                message: "could not describe the input frame".to_owned(),
            });
        }
        let flags: c_long = if force_keyframe {
            ffi::VPX_EFLAG_FORCE_KF as c_long
        } else {
            0
        };
        let pts = self.next_pts;
        self.next_pts += 1;
        // SAFETY: the context is initialised and `wrapped` points at the image described above,
        // valid for the duration of this call.
        let code = unsafe {
            ffi::vpx_codec_encode(
                &mut *self.ctx,
                wrapped,
                pts,
                1,
                flags,
                ffi::VPX_DL_REALTIME as c_ulong,
            )
        };
        if code != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(codec_error(&mut self.ctx, "vpx_codec_encode", code));
        }
        Ok(self.drain())
    }

    /// Collects the compressed packets libvpx has ready.
    fn drain(&mut self) -> Vec<EncodedFrame> {
        let mut frames = Vec::new();
        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        // Bounded: libvpx yields at most a handful of packets per encode call.
        for _ in 0..64 {
            // SAFETY: the context is initialised; `iter` starts null and is only advanced by
            // libvpx. The returned packet stays valid until the next encode call on this context.
            let packet = unsafe { ffi::vpx_codec_get_cx_data(&mut *self.ctx, &mut iter) };
            if packet.is_null() {
                break;
            }
            // SAFETY: `packet` is non-null and points at a packet owned by the context (see
            // above); we only read it before calling libvpx again.
            let packet = unsafe { &*packet };
            if packet.kind != ffi::vpx_codec_cx_pkt_kind::VPX_CODEC_CX_FRAME_PKT {
                continue;
            }
            // SAFETY: for `VPX_CODEC_CX_FRAME_PKT` the `frame` member of the union is the active
            // one, and `buf`/`sz` describe a byte buffer owned by the context, valid until the
            // next encode call; we copy it out immediately.
            let (data, flags, pts) = unsafe {
                let frame = &packet.data.frame;
                let data = if frame.buf.is_null() || frame.sz == 0 {
                    Vec::new()
                } else {
                    std::slice::from_raw_parts(frame.buf.cast::<u8>(), frame.sz as usize).to_vec()
                };
                (data, frame.flags, frame.pts)
            };
            frames.push(EncodedFrame {
                data,
                keyframe: flags & ffi::VPX_FRAME_IS_KEY != 0,
                pts,
            });
        }
        frames
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised by `vpx_codec_enc_init_ver` (an `Encoder` only
        // exists after that succeeded) and is destroyed exactly once, here.
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// A decoded picture, as tightly packed I420 planes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodedFrame {
    /// Picture width in pixels.
    pub width: u32,
    /// Picture height in pixels.
    pub height: u32,
    /// Luma plane, `width * height` bytes.
    pub y: Vec<u8>,
    /// Blue-difference chroma plane, `ceil(width/2) * ceil(height/2)` bytes.
    pub u: Vec<u8>,
    /// Red-difference chroma plane, same size as `u`.
    pub v: Vec<u8>,
}

/// A VP8 decoder, used to check that what the encoder produced really decodes.
pub struct Decoder {
    ctx: Box<ffi::vpx_codec_ctx_t>,
}

// SAFETY: same reasoning as for `Encoder`: no thread affinity, exclusive access via `&mut self`.
unsafe impl Send for Decoder {}

impl Decoder {
    /// Creates a single-threaded VP8 decoder.
    pub fn new() -> Result<Decoder, Error> {
        // SAFETY: an all-zero `vpx_codec_ctx_t` is the documented initial state.
        let mut ctx: Box<ffi::vpx_codec_ctx_t> =
            unsafe { Box::new(MaybeUninit::<ffi::vpx_codec_ctx_t>::zeroed().assume_init()) };
        // SAFETY: `ctx` is boxed and owned by the returned `Decoder`; a null configuration asks
        // libvpx for its defaults; the ABI version matches the bindings.
        let code = unsafe {
            ffi::vpx_codec_dec_init_ver(
                &mut *ctx,
                ffi::vpx_codec_vp8_dx(),
                ptr::null(),
                0,
                ffi::VPX_DECODER_ABI_VERSION as c_int,
            )
        };
        if code != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(codec_error(&mut ctx, "vpx_codec_dec_init_ver", code));
        }
        Ok(Decoder { ctx })
    }

    /// Decodes one compressed frame; returns the picture it produced, if any.
    pub fn decode(&mut self, data: &[u8]) -> Result<Option<DecodedFrame>, Error> {
        let len = u32::try_from(data.len())
            .map_err(|_| Error::Config(format!("{} bytes is too large a frame", data.len())))?;
        // SAFETY: the context is initialised; libvpx reads exactly `len` bytes from `data`, which
        // is a live slice of that length, and keeps no reference to it after returning.
        let code = unsafe {
            ffi::vpx_codec_decode(&mut *self.ctx, data.as_ptr(), len, ptr::null_mut(), 0)
        };
        if code != ffi::vpx_codec_err_t::VPX_CODEC_OK {
            return Err(codec_error(&mut self.ctx, "vpx_codec_decode", code));
        }
        let mut iter: ffi::vpx_codec_iter_t = ptr::null();
        // SAFETY: the context is initialised; the returned image (if any) is owned by the
        // decoder and valid until the next decode call, and we copy it out before then.
        let image = unsafe { ffi::vpx_codec_get_frame(&mut *self.ctx, &mut iter) };
        if image.is_null() {
            return Ok(None);
        }
        // SAFETY: `image` is non-null and valid (see above).
        let image = unsafe { &*image };
        if image.fmt != ffi::vpx_img_fmt::VPX_IMG_FMT_I420 {
            return Err(Error::Codec {
                call: "vpx_codec_get_frame",
                message: format!("unexpected image format {:?}", image.fmt),
            });
        }
        let (w, h) = (image.d_w as usize, image.d_h as usize);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        let copy_plane = |plane: usize, width: usize, rows: usize| -> Vec<u8> {
            let stride = image.stride[plane] as usize;
            let base = image.planes[plane];
            let mut out = Vec::with_capacity(width * rows);
            for row in 0..rows {
                // SAFETY: libvpx guarantees plane `plane` has `rows` rows of at least `width`
                // bytes, each starting `stride` bytes after the previous one; the image stays
                // valid while we copy (no libvpx call in between).
                let line = unsafe { std::slice::from_raw_parts(base.add(row * stride), width) };
                out.extend_from_slice(line);
            }
            out
        };
        Ok(Some(DecodedFrame {
            width: image.d_w,
            height: image.d_h,
            y: copy_plane(ffi::VPX_PLANE_Y as usize, w, h),
            u: copy_plane(ffi::VPX_PLANE_U as usize, cw, ch),
            v: copy_plane(ffi::VPX_PLANE_V as usize, cw, ch),
        }))
    }
}

impl Drop for Decoder {
    fn drop(&mut self) {
        // SAFETY: the context was initialised by `vpx_codec_dec_init_ver` and is destroyed
        // exactly once, here.
        unsafe {
            ffi::vpx_codec_destroy(&mut *self.ctx);
        }
    }
}

/// Fields of a VP8 keyframe header (RFC 6386, section 9.1), read without a decoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyframeHeader {
    /// Width in pixels (the low 14 bits of the width field).
    pub width: u16,
    /// Height in pixels (the low 14 bits of the height field).
    pub height: u16,
}

/// Parses the uncompressed header of a VP8 frame; `None` unless it is a well-formed keyframe
/// (frame-type bit 0, start code `9d 01 2a`).
pub fn parse_keyframe_header(frame: &[u8]) -> Option<KeyframeHeader> {
    let header = frame.get(..10)?;
    if header[0] & 1 != 0 || header[3..6] != [0x9d, 0x01, 0x2a] {
        return None;
    }
    let width = u16::from_le_bytes([header[6], header[7]]) & 0x3fff;
    let height = u16::from_le_bytes([header[8], header[9]]) & 0x3fff;
    Some(KeyframeHeader { width, height })
}

#[cfg(test)]
mod tests;
