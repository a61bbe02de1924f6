"""Generator metadata records (prompts, workflows, parameters) that the metadata fixtures embed."""

from __future__ import annotations

import json
from typing import Any

A1111_PARAMETERS = (
    "masterpiece, a red fox in the snow, (detailed fur:1.2)\n"
    "Negative prompt: lowres, blurry\n"
    "Steps: 28, Sampler: DPM++ 2M Karras, CFG scale: 7.5, Seed: 3141592653, Size: 512x768, "
    "Model hash: 6ce0161689, Model: v1-5-pruned-emaonly, Denoising strength: 0.4, "
    'Lora hashes: "fox_v2: a1b2c3d4e5f6, snow: 0f9e8d7c6b5a", Hires upscale: 2, '
    "Version: v1.7.0"
)

COMFY_PROMPT: dict[str, Any] = {
    "3": {
        "class_type": "KSampler",
        "_meta": {"title": "KSampler"},
        "inputs": {
            "seed": 156680208700286,
            "steps": 20,
            "cfg": 8.0,
            "sampler_name": "euler",
            "scheduler": "normal",
            "denoise": 1.0,
            "model": ["10", 0],
            "positive": ["6", 0],
            "negative": ["7", 0],
            "latent_image": ["5", 0],
        },
    },
    "4": {
        "class_type": "CheckpointLoaderSimple",
        "inputs": {"ckpt_name": "sd_xl_base_1.0.safetensors"},
    },
    "5": {
        "class_type": "EmptyLatentImage",
        "inputs": {"width": 1024, "height": 1024, "batch_size": 1},
    },
    "6": {
        "class_type": "CLIPTextEncode",
        "inputs": {"text": "a lighthouse at dusk, volumetric light", "clip": ["10", 1]},
    },
    "7": {"class_type": "CLIPTextEncode", "inputs": {"text": "text, watermark", "clip": ["10", 1]}},
    "8": {"class_type": "VAEDecode", "inputs": {"samples": ["3", 0], "vae": ["4", 2]}},
    "9": {"class_type": "SaveImage", "inputs": {"filename_prefix": "ComfyUI", "images": ["8", 0]}},
    "10": {
        "class_type": "LoraLoader",
        "inputs": {
            "lora_name": "lighthouse_style.safetensors",
            "strength_model": 0.8,
            "strength_clip": 0.8,
            "model": ["4", 0],
            "clip": ["4", 1],
        },
    },
}

COMFY_WORKFLOW: dict[str, Any] = {
    "last_node_id": 10,
    "last_link_id": 12,
    "version": 0.4,
    "links": [],
    "nodes": [
        {
            "id": 3,
            "type": "KSampler",
            "pos": [863, 186],
            "widgets_values": [156680208700286, "randomize", 20, 8, "euler", "normal", 1],
        },
        {
            "id": 4,
            "type": "CheckpointLoaderSimple",
            "pos": [26, 474],
            "widgets_values": ["sd_xl_base_1.0.safetensors"],
        },
        {
            "id": 6,
            "type": "CLIPTextEncode",
            "pos": [415, 186],
            "widgets_values": ["a lighthouse at dusk, volumetric light"],
        },
        {
            "id": 10,
            "type": "LoraLoader",
            "pos": [20, 200],
            "widgets_values": ["lighthouse_style.safetensors", 0.8, 0.8],
        },
    ],
}

NOVELAI_COMMENT: dict[str, Any] = {
    "prompt": "1girl, silver hair, night city, best quality",
    "steps": 28,
    "height": 1216,
    "width": 832,
    "scale": 5.0,
    "uncond_scale": 1.0,
    "cfg_rescale": 0.0,
    "seed": 2718281828,
    "n_samples": 1,
    "noise_schedule": "karras",
    "sampler": "k_euler_ancestral",
    "uc": "lowres, bad anatomy",
    "request_type": "PromptGenerateRequest",
    "signed_hash": "c2lnbmVkLWhhc2gtZXhhbXBsZQ==",
}
NOVELAI_CHUNKS: dict[str, str] = {
    "Title": "NovelAI generated image",
    "Description": NOVELAI_COMMENT["prompt"],
    "Software": "NovelAI",
    "Source": "NovelAI Diffusion V4 5AB81C21",
    "Generation time": "3.21",
    "Comment": json.dumps(NOVELAI_COMMENT),
}

INVOKE_METADATA: dict[str, Any] = {
    "app_version": "4.2.4",
    "generation_mode": "sdxl_txt2img",
    "positive_prompt": "an isometric cottage, soft light",
    "negative_prompt": "blurry",
    "width": 1024,
    "height": 1024,
    "seed": 123456789,
    "steps": 30,
    "cfg_scale": 6.5,
    "scheduler": "dpmpp_2m_k",
    "rand_device": "cpu",
    "model": {
        "key": "4f1c",
        "hash": "blake3:9a8b",
        "name": "Juggernaut XL v9",
        "base": "sdxl",
        "type": "main",
    },
    "loras": [],
}
INVOKE_GRAPH: dict[str, Any] = {
    "id": "sdxl_graph",
    "nodes": {
        "noise": {"type": "noise", "id": "noise"},
        "denoise": {"type": "denoise_latents", "id": "denoise"},
    },
    "edges": [],
}
INVOKE_LEGACY: dict[str, Any] = {
    "model": "stable diffusion",
    "model_weights": "stable-diffusion-1.5",
    "model_hash": "cc6cb27103417325ff94f52b7a5d2dde45a7515b25c255d8e396c90014281516",
    "app_id": "invoke-ai/InvokeAI",
    "app_version": "2.2.5",
    "image": {
        "prompt": [{"prompt": "a castle on a hill", "weight": 1.0}],
        "steps": 50,
        "cfg_scale": 7.5,
        "threshold": 0,
        "perlin": 0,
        "seed": 42,
        "width": 512,
        "height": 512,
        "type": "txt2img",
        "postprocessing": None,
        "sampler": "k_lms",
    },
}
INVOKE_DREAM = '"a castle on a hill" -s 50 -S 42 -W 512 -H 512 -C 7.5 -A k_lms'

FOOOCUS_JSON: dict[str, Any] = {
    "adm_guidance": "(1.5, 0.8, 0.3)",
    "base_model": "juggernautXL_v8Rundiffusion",
    "base_model_hash": "aeb7e9e689",
    "full_negative_prompt": ["unrealistic"],
    "full_prompt": ["a mountain lake, cinematic"],
    "guidance_scale": 4.0,
    "loras": [["sd_xl_offset_example-lora_1.0", 0.1, "4852686128"]],
    "metadata_scheme": "fooocus",
    "negative_prompt": "",
    "performance": "Speed",
    "prompt": "a mountain lake",
    "refiner_model": "None",
    "resolution": "(1152, 896)",
    "sampler": "dpmpp_2m_sde_gpu",
    "scheduler": "karras",
    "seed": "1234567890",
    "sharpness": 2.0,
    "steps": 30,
    "styles": "['Fooocus V2', 'Fooocus Enhance']",
    "vae": "Default (model)",
    "version": "Fooocus v2.5.5",
}
FOOOCUS_A1111 = (
    "a mountain lake, cinematic\nNegative prompt: unrealistic\n"
    "Steps: 30, Sampler: DPM++ 2M SDE Karras, Seed: 1234567890, Size: 1152x896, "
    'CFG scale: 4.0, Sharpness: 2.0, ADM Guidance: "(1.5, 0.8, 0.3)", '
    "Model: juggernautXL_v8Rundiffusion, Model hash: aeb7e9e689, Performance: Speed, "
    "Scheduler: karras, VAE: Default (model), Version: Fooocus v2.5.5"
)

DST = "http://cv.iptc.org/newscodes/digitalsourcetype/"
