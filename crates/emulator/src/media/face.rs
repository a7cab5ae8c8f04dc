//! Draws the persona's face: a small anti-aliased RGB painter and an RGB -> I420 converter.
//!
//! A picture is composed in two passes so a frame bank does not redraw what it can reuse: the
//! [`Pose`] (head position, blink) gives a face without a mouth, and the mouth is painted on a
//! copy of it for each mouth level.

use super::style::{PersonaStyle, Rgb};

/// An RGB picture being painted.
#[derive(Clone)]
pub struct Canvas {
    width: usize,
    height: usize,
    rgb: Vec<[u8; 3]>,
}

/// Where the head is and how open the eyes are at one moment of the idle loop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Horizontal head offset in pixels.
    pub dx: f32,
    /// Vertical head offset in pixels.
    pub dy: f32,
    /// Eye opening: 1 open, 0 shut.
    pub eyes: f32,
}

impl Pose {
    /// The pose at frame `frame` of an idle loop `loop_len` frames long: a slow sway that
    /// returns to its start at the end of the loop (so the loop has no seam) and one blink.
    pub fn idle(frame: usize, loop_len: usize) -> Pose {
        let phase = frame as f32 / loop_len.max(1) as f32 * std::f32::consts::TAU;
        // A blink takes about a quarter second; it is placed late in the loop.
        const BLINK: [f32; 6] = [0.55, 0.12, 0.0, 0.12, 0.55, 0.9];
        let blink_start = loop_len * 2 / 3;
        let eyes = frame
            .checked_sub(blink_start)
            .and_then(|i| BLINK.get(i).copied())
            .unwrap_or(1.0);
        Pose {
            dx: 3.0 * phase.sin(),
            dy: 1.5 * (2.0 * phase).sin(),
            eyes,
        }
    }
}

fn mix(a: u8, b: u8, t: f32) -> u8 {
    (f32::from(a) + (f32::from(b) - f32::from(a)) * t).round() as u8
}

fn mix_rgb(a: Rgb, b: Rgb, t: f32) -> Rgb {
    Rgb(mix(a.0, b.0, t), mix(a.1, b.1, t), mix(a.2, b.2, t))
}

fn shade(c: Rgb, factor: f32) -> Rgb {
    let f = |v: u8| (f32::from(v) * factor).clamp(0.0, 255.0) as u8;
    Rgb(f(c.0), f(c.1), f(c.2))
}

impl Canvas {
    /// A canvas filled with a vertical gradient from `top` to `bottom`, brightened by a soft
    /// glow behind where the head sits.
    pub fn background(width: usize, height: usize, top: Rgb, bottom: Rgb) -> Canvas {
        let mut rgb = Vec::with_capacity(width * height);
        let (cx, cy) = (width as f32 / 2.0, height as f32 * 0.42);
        let radius = height as f32 * 0.75;
        let glow = shade(top, 1.35);
        for y in 0..height {
            let row = mix_rgb(top, bottom, y as f32 / height.max(1) as f32);
            for x in 0..width {
                let d = ((x as f32 - cx).powi(2) + (y as f32 - cy).powi(2)).sqrt() / radius;
                let t = (1.0 - d).clamp(0.0, 1.0).powi(2) * 0.45;
                let c = mix_rgb(row, glow, t);
                rgb.push([c.0, c.1, c.2]);
            }
        }
        Canvas { width, height, rgb }
    }

    /// Paints a filled ellipse centred at (`cx`, `cy`) with radii `rx`, `ry`, with about one
    /// pixel of anti-aliased edge and overall opacity `alpha`. Only the bounding box is visited.
    pub fn ellipse(&mut self, cx: f32, cy: f32, rx: f32, ry: f32, color: Rgb, alpha: f32) {
        if rx <= 0.0 || ry <= 0.0 || alpha <= 0.0 {
            return;
        }
        let x0 = (cx - rx - 1.0).floor().max(0.0) as usize;
        let y0 = (cy - ry - 1.0).floor().max(0.0) as usize;
        let x1 = ((cx + rx + 1.0).ceil().max(0.0) as usize).min(self.width);
        let y1 = ((cy + ry + 1.0).ceil().max(0.0) as usize).min(self.height);
        // The edge is one pixel wide measured along the smaller radius.
        let edge = 1.0 / rx.min(ry);
        for y in y0..y1 {
            let ny = (y as f32 + 0.5 - cy) / ry;
            for x in x0..x1 {
                let nx = (x as f32 + 0.5 - cx) / rx;
                let d = (nx * nx + ny * ny).sqrt();
                let coverage = ((1.0 - d) / edge + 0.5).clamp(0.0, 1.0) * alpha;
                if coverage <= 0.0 {
                    continue;
                }
                if let Some(px) = self.rgb.get_mut(y * self.width + x) {
                    *px = [
                        mix(px[0], color.0, coverage),
                        mix(px[1], color.1, coverage),
                        mix(px[2], color.2, coverage),
                    ];
                }
            }
        }
    }

    /// Paints everything but the mouth.
    pub fn draw_face(&mut self, style: &PersonaStyle, pose: Pose) {
        let (w, h) = (self.width as f32, self.height as f32);
        // Proportions are relative to a 640x360 picture and scale with the canvas height.
        let s = h / 360.0;
        let cx = w / 2.0 + pose.dx * s;
        let cy = h * 0.48 + pose.dy * s;
        let skin_shadow = shade(style.skin, 0.82);

        // Shoulders move a little less than the head, as a body would.
        self.ellipse(
            w / 2.0 + pose.dx * 0.3 * s,
            h * 1.16,
            190.0 * s,
            112.0 * s,
            style.shirt,
            1.0,
        );
        if style.long_hair {
            self.ellipse(cx, cy + 40.0 * s, 96.0 * s, 118.0 * s, style.hair, 1.0);
        }
        self.ellipse(cx, cy - 14.0 * s, 90.0 * s, 106.0 * s, style.hair, 1.0);
        self.ellipse(cx, cy + 100.0 * s, 30.0 * s, 48.0 * s, skin_shadow, 1.0);
        for side in [-1.0, 1.0] {
            self.ellipse(
                cx + side * 77.0 * s,
                cy + 6.0 * s,
                12.0 * s,
                20.0 * s,
                skin_shadow,
                1.0,
            );
        }
        self.ellipse(cx, cy, 78.0 * s, 100.0 * s, style.skin, 1.0);
        // Fringe over the forehead.
        self.ellipse(
            cx + 6.0 * s,
            cy - 78.0 * s,
            80.0 * s,
            40.0 * s,
            style.hair,
            1.0,
        );
        // Cheeks and nose.
        for side in [-1.0, 1.0] {
            let blush = Rgb(230, 120, 120);
            self.ellipse(
                cx + side * 44.0 * s,
                cy + 28.0 * s,
                16.0 * s,
                9.0 * s,
                blush,
                0.22,
            );
        }
        self.ellipse(cx, cy + 18.0 * s, 8.0 * s, 15.0 * s, skin_shadow, 0.55);
        self.ellipse(cx, cy + 28.0 * s, 10.0 * s, 5.0 * s, skin_shadow, 0.7);
        // Eyes and brows.
        for side in [-1.0, 1.0] {
            let ex = cx + side * 32.0 * s;
            let ey = cy - 10.0 * s;
            let eye_ry = 10.0 * s * pose.eyes;
            if eye_ry >= 1.5 {
                self.ellipse(ex, ey, 16.0 * s, eye_ry, Rgb(248, 248, 244), 1.0);
                let iris_r = 7.5 * s;
                self.ellipse(ex, ey, iris_r, iris_r.min(eye_ry * 0.95), style.iris, 1.0);
                let pupil_r = 3.5 * s;
                self.ellipse(
                    ex,
                    ey,
                    pupil_r,
                    pupil_r.min(eye_ry * 0.8),
                    Rgb(16, 14, 14),
                    1.0,
                );
                self.ellipse(
                    ex + 2.5 * s,
                    ey - 2.5 * s,
                    1.6 * s,
                    1.6 * s,
                    Rgb(255, 255, 255),
                    0.9,
                );
            }
            // The lid line: a lash when open, the closed lid when shut.
            let lid_y = ey - eye_ry;
            self.ellipse(ex, lid_y, 16.5 * s, 1.2 * s, shade(style.hair, 0.6), 0.85);
            self.ellipse(ex, ey - 28.0 * s, 19.0 * s, 3.4 * s, style.hair, 1.0);
        }
    }

    /// Paints the mouth, `openness` 0 (closed) to 1 (wide open), for a head at `pose`.
    pub fn draw_mouth(&mut self, style: &PersonaStyle, pose: Pose, openness: f32) {
        let (w, h) = (self.width as f32, self.height as f32);
        let s = h / 360.0;
        let o = openness.clamp(0.0, 1.0);
        let mx = w / 2.0 + pose.dx * s;
        let my = h * 0.48 + pose.dy * s + 56.0 * s;
        // An opening mouth gets taller and a little narrower, like a jaw dropping.
        let lip_rx = (27.0 - 5.0 * o) * s;
        let lip_ry = (5.0 + 15.0 * o) * s;
        self.ellipse(mx, my, lip_rx, lip_ry, style.lips, 1.0);
        let inner_rx = lip_rx - 4.0 * s;
        let inner_ry = (1.2 + 12.5 * o) * s;
        self.ellipse(mx, my, inner_rx, inner_ry, Rgb(70, 20, 30), 1.0);
        if o > 0.2 {
            // Upper teeth, and a tongue at the bottom of a wide mouth.
            let teeth_y = my - inner_ry * 0.62;
            self.ellipse(
                mx,
                teeth_y,
                inner_rx * 0.72,
                inner_ry * 0.3,
                Rgb(240, 236, 228),
                1.0,
            );
            self.ellipse(
                mx,
                my + inner_ry * 0.55,
                inner_rx * 0.6,
                inner_ry * 0.35,
                Rgb(200, 90, 100),
                0.9,
            );
        }
    }

    /// Converts to a tightly packed I420 frame (BT.601, limited range: what browsers assume for
    /// VP8), averaging each 2x2 block for the chroma planes.
    pub fn to_i420(&self) -> Vec<u8> {
        let mut out = vec![0u8; anam_vp8::i420_len(self.width as u32, self.height as u32)];
        self.write_i420(&mut out, (0, 0, self.width, self.height));
        out
    }

    /// The pixel box (`x0, y0, x1, y1`, even-aligned) that [`Canvas::draw_mouth`] can touch for
    /// a head at `pose`, at any openness.
    pub fn mouth_box(&self, pose: Pose) -> (usize, usize, usize, usize) {
        let (w, h) = (self.width as f32, self.height as f32);
        let s = h / 360.0;
        let (mx, my) = (w / 2.0 + pose.dx * s, h * 0.48 + pose.dy * s + 56.0 * s);
        // Widest lips (27) and tallest (20) plus the anti-aliased edge and chroma rounding.
        let (rx, ry) = (30.0 * s, 23.0 * s);
        let even_down = |v: f32| ((v.max(0.0) as usize) / 2) * 2;
        let even_up = |v: f32, max: usize| ((v.max(0.0) as usize).div_ceil(2) * 2).min(max);
        (
            even_down(mx - rx),
            even_down(my - ry),
            even_up(mx + rx, self.width),
            even_up(my + ry, self.height),
        )
    }

    /// Writes the I420 conversion of the box `(x0, y0, x1, y1)` (even-aligned) into `out`, a
    /// full frame of this canvas's size; pixels outside the box are left as they are. Lets a
    /// frame bank convert a face once and redo only the mouth for each mouth level.
    pub fn write_i420(&self, out: &mut [u8], region: (usize, usize, usize, usize)) {
        let (w, h) = (self.width, self.height);
        let (cw, ch) = (w.div_ceil(2), h.div_ceil(2));
        if out.len() != w * h + 2 * cw * ch {
            return;
        }
        let (x0, y0) = (region.0.min(w) & !1, region.1.min(h) & !1);
        let (x1, y1) = (region.2.min(w), region.3.min(h));
        let (luma, chroma) = out.split_at_mut(w * h);
        let (u_plane, v_plane) = chroma.split_at_mut(cw * ch);
        for y in y0..y1 {
            for x in x0..x1 {
                if let (Some(px), Some(dst)) = (self.rgb.get(y * w + x), luma.get_mut(y * w + x)) {
                    let (r, g, b) = (i32::from(px[0]), i32::from(px[1]), i32::from(px[2]));
                    *dst = (((66 * r + 129 * g + 25 * b + 128) >> 8) + 16).clamp(0, 255) as u8;
                }
            }
        }
        for cy in y0 / 2..y1.div_ceil(2) {
            for cx in x0 / 2..x1.div_ceil(2) {
                let (mut r, mut g, mut b, mut n) = (0i32, 0i32, 0i32, 0i32);
                for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
                    let (x, y) = (cx * 2 + dx, cy * 2 + dy);
                    if x < w && y < h {
                        if let Some(px) = self.rgb.get(y * w + x) {
                            r += i32::from(px[0]);
                            g += i32::from(px[1]);
                            b += i32::from(px[2]);
                            n += 1;
                        }
                    }
                }
                let n = n.max(1);
                let (r, g, b) = (r / n, g / n, b / n);
                let i = cy * cw + cx;
                if let (Some(u), Some(v)) = (u_plane.get_mut(i), v_plane.get_mut(i)) {
                    *u = (((-38 * r - 74 * g + 112 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
                    *v = (((112 * r - 94 * g - 18 * b + 128) >> 8) + 128).clamp(0, 255) as u8;
                }
            }
        }
    }

    /// The colour at (`x`, `y`), if inside.
    #[cfg(test)]
    pub fn pixel(&self, x: usize, y: usize) -> Option<[u8; 3]> {
        (x < self.width && y < self.height)
            .then(|| self.rgb.get(y * self.width + x).copied())
            .flatten()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(style: &PersonaStyle, pose: Pose, openness: f32) -> Canvas {
        let mut c = Canvas::background(640, 360, style.background_top, style.background_bottom);
        c.draw_face(style, pose);
        c.draw_mouth(style, pose, openness);
        c
    }

    #[test]
    fn the_face_sits_on_the_background() {
        let style = PersonaStyle::for_persona("persona-aria");
        let c = face(&style, Pose::idle(0, 75), 0.0);
        // Corner is background, the cheek is skin.
        let corner = c.pixel(2, 2).expect("corner");
        assert!(corner
            .iter()
            .zip([58u8, 118, 136])
            .all(|(a, b)| a.abs_diff(b) < 30));
        let cheek = c.pixel(320 - 20, 190).expect("cheek");
        assert_eq!(cheek, [style.skin.0, style.skin.1, style.skin.2]);
    }

    #[test]
    fn an_open_mouth_covers_chin_skin_that_a_closed_one_leaves_bare() {
        let style = PersonaStyle::for_persona("persona-milo");
        let pose = Pose::idle(0, 75);
        // Nine pixels below the mouth's centre line (head centre 172.8 + 56).
        let (x, y) = (320, 237);
        let skin = [style.skin.0, style.skin.1, style.skin.2];
        let closed = face(&style, pose, 0.0).pixel(x, y).expect("in picture");
        let open = face(&style, pose, 1.0).pixel(x, y).expect("in picture");
        assert_eq!(closed, skin);
        let distance: u32 = open
            .iter()
            .zip(skin)
            .map(|(a, b)| u32::from(a.abs_diff(b)))
            .sum();
        assert!(
            distance > 60,
            "open mouth pixel {open:?} is too close to skin {skin:?}"
        );
    }

    #[test]
    fn the_idle_loop_blinks_once_and_has_no_seam() {
        let len = 75;
        let shut = (0..len).filter(|&f| Pose::idle(f, len).eyes < 0.2).count();
        assert!((1..=4).contains(&shut), "{shut} shut frames");
        let first = Pose::idle(0, len);
        let after_last = Pose::idle(len, len);
        assert!((first.dx - after_last.dx).abs() < 1e-3);
        assert!((first.dy - after_last.dy).abs() < 1e-3);
    }

    #[test]
    fn redoing_only_the_mouth_box_gives_the_full_conversion() {
        let style = PersonaStyle::for_persona("persona-aria");
        for frame in [0, 20, 52] {
            let pose = Pose::idle(frame, 75);
            let mut c = Canvas::background(640, 360, style.background_top, style.background_bottom);
            c.draw_face(&style, pose);
            let mut partial = c.to_i420();
            c.draw_mouth(&style, pose, 1.0);
            c.write_i420(&mut partial, c.mouth_box(pose));
            assert!(
                partial == c.to_i420(),
                "frame {frame}: the mouth leaks out of its box"
            );
        }
    }

    #[test]
    fn i420_of_a_flat_colour_has_the_bt601_values() {
        let c = Canvas::background(4, 2, Rgb(255, 255, 255), Rgb(255, 255, 255));
        let yuv = c.to_i420();
        assert_eq!(yuv.len(), 4 * 2 + 2 * 2);
        assert!(yuv[..8].iter().all(|&y| y == 235));
        assert!(yuv[8..].iter().all(|&c| c == 128));
        let black = Canvas::background(2, 2, Rgb(0, 0, 0), Rgb(0, 0, 0)).to_i420();
        assert_eq!(black, vec![16, 16, 16, 16, 128, 128]);
    }
}
