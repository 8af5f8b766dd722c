#!/usr/bin/env bash
# The speech corpus the `listen` tests and bench/speech.sh share (issue 17): the keywords of
# the example flows' `listen` arms (examples/callback.ivr: «готов», «отмена», «да», «нет») and
# distractors (other words and sentences, names, numbers, negations, near-homophones, silence,
# breathing and noise), each spoken by several espeak-ng voices, speeds and pitches, as 8 kHz
# G.711 μ-law the way a caller's RTP carries it — clean, and with noise at 20 dB and 10 dB SNR.
#
#   scripts/speech-corpus.sh [OUT_DIR]      (default: target/speech-corpus)
#
# Writes OUT_DIR/{clean,snr20,snr10}/ID-VARIANT.ulaw (headerless 8 kHz μ-law: 0.4 s before
# the speech, 1.2 s after it) and OUT_DIR/manifest.csv, one row per file and flow it is played
# to (tests/fixtures/runtime/speech.ivr has the flows `operator` and `client`):
#
#   file,condition,snr,id,text,flow,expected,voice,speed,pitch
#
# `expected` is the phrase whose arm must be taken, or `none` (a distractor: `nomatch`, or no
# arm at all). The noise's level is computed from the speech's RMS over the spoken part, so the
# SNR is the one named. Everything is deterministic (sox runs with -R, a fixed seed; each
# file's noise is cut from one seeded noise at an offset derived from its name), and the corpus
# is regenerated only when this script or the tools' versions change (OUT_DIR/.stamp). Never
# committed: target/ is ignored.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-target/speech-corpus}

for tool in espeak-ng sox sha256sum awk; do
  command -v "$tool" >/dev/null 2>&1 || { echo "speech-corpus: $tool is missing; run scripts/setup.sh" >&2; exit 1; }
done

stamp=$( (cat "$0"; espeak-ng --version; sox --version) | sha256sum | cut -c1-16)
if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ] && [ -f "$out/manifest.csv" ]; then
  exit 0
fi

# What is said: ID|TEXT|OPERATOR|CLIENT, where OPERATOR and CLIENT say what the flow of that
# name must take for it: a phrase, `none` (no phrase arm), or `-` (not played to that flow,
# e.g. «нет, не готов» holds the client's «нет»). TEXT `@silence`, `@breath` and `@noise` are
# made by sox instead of a voice.
texts() {
  cat <<'EOF'
gotov|готов|готов|-
otmena|отмена|отмена|-
da|да|-|да
net|нет|-|нет
ne_gotov|не готов|none|-
net_ne_gotov|нет, не готов|none|-
ya_ne_gotov|я пока не готов|none|-
eshche_ne|ещё не готов, подождите|none|-
gotovo|готово|none|none
dovod|довод|none|none
otmetka|отметка|none|none
dama|дама|none|none
neft|нефть|none|none
khorosho|хорошо|none|none
privet|привет, это Иван|none|none
allo|алло, кто это?|none|none
dostavka|сколько стоит доставка?|none|none
maria|Мария Петровна Соколова|none|none
number|двадцать пять тысяч триста|none|none
phone|восемь девятьсот шестнадцать|none|none
ne_znayu|не знаю|none|none
podozhdite|подождите минуту|none|none
spasibo|спасибо, до свидания|none|none
silence|@silence|none|none
breath|@breath|none|none
noise|@noise|none|none
EOF
}

# The speakers: VOICE|SPEED (words per minute)|PITCH (0-99). Six, so that each voice, speed
# and pitch appears with others rather than all combinations (the corpus stays small enough
# to send through real calls).
variants() {
  cat <<'EOF'
ru|150|50
ru+m3|130|40
ru+f2|170|65
ru+m7|140|30
ru+f4|160|75
ru+klatt|185|55
EOF
}

# Every sox run repeatable (fixed seed, no dither) and quiet but for failures.
export SOX_OPTS="-R -D -V1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
rm -rf "$out"
mkdir -p "$out/clean" "$out/snr20" "$out/snr10"

# One minute of seeded white noise; each file takes its own stretch of it.
sox -n -r 8000 -c 1 -b 16 "$tmp/noise.wav" synth 60 whitenoise

rms() { sox "$1" -n stat 2>&1 | awk '/^RMS +amplitude/ {print $3}'; }
# The RMS of the spoken part only (leading and trailing silence trimmed).
speech_rms() {
  sox "$1" -n silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse stat 2>&1 |
    awk '/^RMS +amplitude/ {print $3}'
}

manifest="$out/manifest.csv"
echo "file,condition,snr,id,text,flow,expected,voice,speed,pitch" >"$manifest"
row() { # NAME TEXT OPERATOR CLIENT VOICE SPEED PITCH
  local cond snr flow expected
  for cond in clean snr20 snr10; do
    case $cond in clean) snr=none ;; snr20) snr=20 ;; snr10) snr=10 ;; esac
    for flow in operator client; do
      if [ "$flow" = operator ]; then expected=$3; else expected=$4; fi
      [ "$expected" = - ] && continue
      printf '%s/%s.ulaw,%s,%s,%s,"%s",%s,%s,%s,%s,%s\n' "$cond" "$1" "$cond" "$snr" "${1%-*}" \
        "$2" "$flow" "$expected" "$5" "$6" "$7" >>"$manifest"
    done
  done
}

n=0
while IFS='|' read -r id text operator client; do
  v=0
  while IFS='|' read -r voice speed pitch; do
    v=$((v + 1))
    name="$id-$v"
    wav="$tmp/$name.wav"
    case $text in
      @silence) # Near-silence: a line's hiss at -60 dB, lengths varying with the variant.
        sox -n -r 8000 -c 1 -b 16 "$wav" synth "1.$v" whitenoise vol 0.001
        voice=sox speed=- pitch=- ;;
      @breath) # Breathing: low-passed pink noise swelling and fading twice a second or so.
        sox -n -r 8000 -c 1 -b 16 "$wav" synth "1.$v" pinknoise synth "1.$v" sine amod "0.$((v + 3))" \
          lowpass 1200 vol 0.4
        voice=sox speed=- pitch=- ;;
      @noise) # A burst of street-like noise (brown noise with a hum).
        sox -n -r 8000 -c 1 -b 16 "$wav" synth "1.$v" brownnoise synth "1.$v" sine mix "$((50 * v))" vol 0.3
        voice=sox speed=- pitch=- ;;
      *)
        espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$tmp/raw.wav" "$text"
        # Every voice peaks at -6 dBFS: a caller's level, no clipping once noise is added.
        sox "$tmp/raw.wav" -r 8000 -c 1 -b 16 "$wav" gain -n -6 ;;
    esac
    sox "$wav" "$tmp/padded.wav" pad 0.4 1.2
    sox "$tmp/padded.wav" -t ul "$out/clean/$name.ulaw"
    len=$(sox --i -D "$tmp/padded.wav")
    # Sounds made by sox have no spoken part to trim: their whole RMS is the reference.
    case $text in @*) s=$(rms "$wav") ;; *) s=$(speech_rms "$wav") ;; esac
    # Where this file's noise starts: a number from its name, within the first 50 s.
    offset=$(($(printf '%s' "$name" | cksum | cut -d' ' -f1) % 50))
    sox "$tmp/noise.wav" "$tmp/n.wav" trim "$offset" "$len"
    nr=$(rms "$tmp/n.wav")
    for snr in 20 10; do
      # Noise gain so that 20·log10(speech RMS / noise RMS) = SNR.
      gain=$(awk -v s="$s" -v n="$nr" -v d="$snr" 'BEGIN { printf "%.6f", s / (n * 10 ^ (d / 20)) }')
      sox -m -v 1 "$tmp/padded.wav" -v "$gain" "$tmp/n.wav" -t ul "$out/snr$snr/$name.ulaw"
    done
    row "$name" "$text" "$operator" "$client" "$voice" "$speed" "$pitch"
    n=$((n + 1))
  done < <(variants)
done < <(texts)

echo "$stamp" >"$out/.stamp"
echo "speech-corpus: $n utterances × 3 conditions in $out ($(($(wc -l <"$manifest") - 1)) manifest rows)" >&2
