//! Active speaker: the loudest microphone over the last tick, from the audio-level header
//! extension publishers put on every audio packet (no decoding).

use serde_json::json;

use super::Router;
use super::rooms::Source;

/// Average loudness (127 minus the level in -dBov) a voice needs to count: about -50 dBov.
const SPEAKING: u64 = 77;

impl Router {
    pub(super) fn update_speakers(&mut self) {
        let mut changes = Vec::new();
        for (room_id, room) in &mut self.rooms {
            let mut loudest: Option<(String, u64)> = None;
            for m in &room.members {
                let Some(p) = self.participants.get(m) else {
                    continue;
                };
                let Some(track) = p
                    .published
                    .get(&Source::Mic)
                    .and_then(|t| self.tracks.get(t))
                else {
                    continue;
                };
                if track.paused || track.level_packets == 0 {
                    continue;
                }
                let average = track.loudness / track.level_packets;
                if average >= SPEAKING && loudest.as_ref().is_none_or(|(_, l)| average > *l) {
                    loudest = Some((m.clone(), average));
                }
            }
            // Silence keeps the last speaker highlighted, as people expect.
            if let Some((id, _)) = loudest
                && room.speaker.as_deref() != Some(id.as_str())
            {
                room.speaker = Some(id.clone());
                changes.push((*room_id, id));
            }
        }
        for track in self.tracks.values_mut() {
            track.loudness = 0;
            track.level_packets = 0;
        }
        for (room, id) in changes {
            self.broadcast(
                room,
                &json!({"type": "meeting.speaker", "participant_id": id}),
            );
        }
    }
}
