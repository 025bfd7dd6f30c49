#!/usr/bin/env python3
"""Build the utterance-classifier corpus from hand-written seeds.

Reads corpus/seeds_en.jsonl and corpus/seeds_zh.jsonl (one hand-written utterance per line) and
expands every seed into a few noisy paraphrases: slot swaps (car models, brands, colours,
relatives, names, years, money amounts), spoken fillers ("uh", "嗯", "那个"), disfluent
repetitions, ASR-style lowercasing / missing punctuation / spelled-out numbers, and a previous
turn drawn from a pool of salesperson (or customer) turns when the seed has none. A small
template matrix adds short answers ("yeah", "行") whose meaning depends on the salesperson's
question.

Splits are made per template (a seed, or one question of the matrix): every paraphrase of a
seed lands in the same split. Output: corpus/train.jsonl, corpus/valid.jsonl,
corpus/test.jsonl and corpus/STATS.md.

Deterministic: a fixed seed, no clock, no environment; standard library only (Python 3.11).

    python3 generate_corpus.py            # generate
    python3 generate_corpus.py --check    # validate the seeds (and generated files if present)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

SEED = 20240611
HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"
LANGS = ("en", "zh")
MIN_SEEDS_PER_LABEL = 30
# Seeds of the first release. Seeds appended after them (the decision-role seeds) are dealt into
# splits by a random stream of their own, so adding them moved no earlier seed between splits and
# the earlier labels' held-out figures stay comparable across releases.
FIRST_RELEASE_SEEDS = {"en": 2017, "zh": 1946}
# Seeds of the third block (hard negatives shaped like the rules' false positives, colloquial and
# ASR-like turns, more objections and deferrals) start here. They too are dealt by a stream of
# their own and their rows follow the earlier ones in each split, so the first two blocks' splits
# and rows stay exactly as they were.
THIRD_BLOCK_SEEDS = {"en": 2182, "zh": 2107}
# generated utterances per language (seeds * variants + matrix); the brief asks for 6k-10k
TARGET_PER_LANG = 8000

# Taxonomy section 6: the utterance gives someone (the speaker, or a person it names) this role.
ROLE_LABELS = ["role.decision_maker", "role.primary_driver", "role.influencer"]
ALLOWED_LABELS = (
    [f"pref.body.{x}" for x in ("sedan", "suv", "mpv", "pickup", "hatchback", "coupe")]
    + [f"pref.powertrain.{x}" for x in ("ev", "hybrid", "gasoline", "diesel")]
    + [f"pref.priority.{x}" for x in ("safety", "fuel_economy", "space", "performance", "technology",
                                      "comfort", "reliability", "value", "design", "brand")]
    + ["pref.model", "pref.color"]
    + [f"obj.{x}" for x in ("price", "financing", "trade_in", "competitor", "timing", "approval",
                            "feature", "availability", "running_cost", "trust")]
    + [f"intent.{x}" for x in ("test_drive", "quote", "financing", "trade_in_appraisal", "availability",
                               "negotiation", "timeline_near", "commitment", "browsing", "defer")]
    + ROLE_LABELS
)
ALLOWED_SET = set(ALLOWED_LABELS)
SEED_KEYS = {"context", "context_speaker", "text", "speaker", "labels"}
SPEAKERS = {"customer", "companion", "salesperson"}
CONTEXT_SPEAKERS = {"salesperson", "customer", ""}

# --------------------------------------------------------------------------------------------
# Slot fillers. A surface form found in a seed is swapped for another member of its class, so
# a swap never changes what the utterance expresses (an SUV stays an SUV, an EV stays an EV).
# --------------------------------------------------------------------------------------------
EN_SLOTS = {
    "sedan": ["Camry", "Accord", "Corolla", "Civic", "Altima", "Sonata", "Elantra", "Mazda6", "Jetta",
              "Passat", "Malibu", "K5", "Legacy", "3 Series", "C-Class", "A4", "Sentra"],
    "ev_sedan": ["Model 3", "Ioniq 6", "Polestar 2", "Seal"],
    "suv": ["RAV4", "CR-V", "Highlander", "Pilot", "Tiguan", "Atlas", "Tucson", "Santa Fe", "Sorento",
            "Sportage", "Explorer", "Escape", "CX-5", "CX-50", "Forester", "Outback", "Rogue", "Equinox",
            "Telluride", "Palisade", "Grand Cherokee", "Corolla Cross", "Kona", "Seltos", "X5", "Q5",
            "GLC", "4Runner", "Pathfinder", "Tahoe"],
    "ev_suv": ["Model Y", "Ioniq 5", "EV6", "EV9", "Mustang Mach-E", "Mach-E", "ID.4", "Atto 3"],
    "mpv": ["Odyssey", "Sienna", "Pacifica", "Carnival"],
    "pickup": ["F-150", "Silverado", "Ram 1500", "Tacoma", "Tundra", "Ranger", "Frontier", "Maverick",
               "Colorado"],
    "hatch": ["Golf", "Mazda3", "Fit", "Yaris", "Mini"],
    "hot_hatch": ["GTI", "Golf R", "Civic Type R"],
    "ev_hatch": ["Bolt", "Leaf"],
    "coupe": ["Mustang", "Camaro", "GR86", "BRZ", "Supra", "Miata", "Corvette", "4 Series"],
    "trim": ["XLE", "XSE", "EX-L", "SEL", "Touring", "Lariat", "Denali", "GT-Line"],
    "brand": ["Toyota", "Honda", "Hyundai", "Kia", "Ford", "Chevy", "Nissan", "Mazda", "Subaru",
              "Volkswagen", "BMW", "Audi", "Mercedes", "Lexus", "Tesla", "BYD", "Jeep", "Buick"],
}
EN_BRAND_PLURAL_OK = {"Toyota", "Honda", "Hyundai", "Kia", "Ford", "Chevy", "Nissan", "Mazda", "Subaru",
                      "Lexus", "Jeep", "Buick"}
EN_COLORS = ["white", "black", "silver", "gray", "red", "blue", "green", "pearl white", "midnight blue",
             "dark gray", "dark green", "forest green", "burgundy", "yellow", "orange", "brown", "copper",
             "beige", "matte gray", "navy", "charcoal"]
EN_NAMES = ["Mike", "Sarah", "Dan", "Jessica", "Kevin", "Tom", "Lisa", "Carlos", "Priya", "Ahmed", "Emily",
            "Jake", "Maria", "Rob", "Linda"]
EN_RELATIVES = {  # swapped within a group so pronouns stay right
    "f": ["my wife", "my mom", "my girlfriend", "my sister", "my daughter", "my mother-in-law", "my fiancee"],
    "m": ["my husband", "my dad", "my boyfriend", "my brother", "my son", "my father-in-law", "my fiance"],
    "n": ["my partner", "my spouse"],
}

ZH_SLOTS = {
    "sedan": ["凯美瑞", "雅阁", "轩逸", "朗逸", "卡罗拉", "思域", "帕萨特", "迈腾", "秦PLUS", "亚洲龙", "星瑞",
              "奥迪A4L", "宝马3系", "奔驰C级", "速腾", "天籁"],
    "ev_sedan": ["汉EV", "海豹", "小米SU7", "Model 3", "小鹏P7", "极氪001", "智己L6"],
    "suv": ["RAV4荣放", "CR-V", "汉兰达", "途观L", "探岳", "哈弗H6", "星越L", "长安CS75", "奥迪Q5L", "宝马X3",
            "奔驰GLC", "坦克300", "皓影", "昂科威"],
    "phev_suv": ["宋PLUS DM-i", "唐DM-i", "宋Pro DM-i", "银河L7", "理想L6", "问界M7", "理想L7", "问界M5"],
    "ev_suv": ["Model Y", "元PLUS", "蔚来ES6", "极氪7X", "小鹏G6", "乐道L60"],
    "suv_short": ["宋PLUS", "宋Pro", "元PLUS"],
    "mpv": ["GL8", "赛那", "奥德赛", "腾势D9", "传祺M8", "艾力绅"],
    "pickup": ["长城炮", "风骏", "锐骐", "江铃域虎"],
    "hatch": ["飞度", "高尔夫", "海鸥", "Polo", "思域两厢"],
    "coupe": ["野马", "宝马4系", "奥迪A5"],
    "hybrid_sedan": ["卡罗拉双擎", "雷凌双擎", "秦PLUS DM-i"],
    "brand": ["丰田", "本田", "大众", "比亚迪", "吉利", "长安", "奔驰", "宝马", "奥迪", "特斯拉", "蔚来", "小鹏",
              "零跑", "别克", "日产", "广汽", "哈弗"],
}
ZH_COLORS = ["白色", "黑色", "灰色", "红色", "蓝色", "绿色", "银色", "黄色", "橙色", "紫色", "粉色", "棕色",
             "深蓝色", "深灰色", "珍珠白", "星空灰", "冰川蓝", "墨绿色", "米色", "香槟色", "曜石黑"]
ZH_COLOR_SHORT = ["白的", "黑的", "红的", "蓝的", "灰的", "银的", "绿的"]
ZH_RELATIVES = [  # near-synonyms: the same person, said differently
    ["老婆", "媳妇", "爱人", "太太"],
    ["老公", "爱人", "先生"],
    ["我爸", "我爸爸", "我父亲", "我家老爷子"],
    ["我妈", "我妈妈", "我母亲"],
    ["我们领导", "领导", "老板"],
    ["家里人", "家人"],
]
ZH_REL_NO_SOURCE = {"爱人"}  # ambiguous (wife or husband): never swapped away
ZH_XIAO = "王李刘张陈赵杨周吴黄"

# --------------------------------------------------------------------------------------------
# Context pools (previous turns) for seeds written without one. None of these is an offer or a
# yes/no question whose answer would carry a label, so they never change a seed's labels.
# --------------------------------------------------------------------------------------------
EN_CTX = {
    "open": ["Hi there, welcome in! What brings you by today?", "Good afternoon! What can I help you with?",
             "So, what are you looking for?", "Hey folks, I'm Mike. What are we shopping for today?",
             "Thanks for waiting. How can I help you?", "Welcome! Have you been here before?",
             "Morning! Tell me what you have in mind."],
    "needs": ["What's most important to you in your next car?", "Tell me a bit about how you'll use the car.",
              "What are you driving now?", "Who's going to be driving it mostly?",
              "What didn't you like about your last car?", "How many people are usually in the car?",
              "What kind of driving do you do?", "Is there anything you absolutely need in the new car?",
              "Walk me through a typical week with the car."],
    "walk": ["So this is the new model, it just came in last week.", "Let me show you around the car.",
             "Here's the interior, go ahead and hop in.", "This trim comes with the upgraded package.",
             "Any questions so far?", "What do you think of it?", "Go ahead and sit in the back.",
             "So that's pretty much the walkaround.", "This is the one I was telling you about on the phone."],
    "drive": ["So, how did it feel?", "That's the end of the test drive route.", "What did you think of the drive?",
              "How was the ride?", "Any thoughts now that you've driven it?"],
    "price": ["So this one's listed at thirty-eight nine.", "Here's the price sheet.",
              "With everything, you're at about forty-two out the door.", "That's the best price I can do on this trim.",
              "The monthly would be around five fifty.", "So what do you think about the numbers?",
              "This is our internet price.", "I went and talked to my manager."],
    "finance": ["Are you planning to finance or pay cash?", "Our finance manager can go over the options.",
                "Let me show you the payment options.", "The rate depends on your credit."],
    "trade": ["What are you driving now, and is it paid off?", "Our appraiser looked at your car.",
              "Tell me about your current car."],
    "stock": ["We have a few of those on the lot.", "That one we'd have to order.",
              "We have it in a few colors right now.", "Let me pull up our inventory."],
    "close": ["So, what do you think?", "Is there anything stopping you from moving forward today?",
              "What would it take to earn your business today?", "Where are we at?",
              "So where do you want to go from here?"],
    "compet": ["What else are you considering?", "Have you been to any other dealers?",
               "How does this compare to what you've seen?"],
    "decide": ["Who else will be driving it?", "Tell me who's involved in picking the car.",
               "So where are we in the process?"],
    "time": ["When are you looking to buy?", "What's your timeframe?", "How soon do you need a car?"],
    "small": ["How's your day going?", "Did you find us okay?", "Nice day out, huh?",
              "Sorry for the wait, it's busy today."],
}
ZH_CTX = {
    "open": ["您好，欢迎光临！今天想看什么车？", "哥，姐，里边请，今天想了解哪款？", "您好，我是小王，有什么可以帮您的？",
             "先坐会儿喝杯水，您想看什么样的车？", "以前来过我们店吗？", "今天是专门过来看车的吗？"],
    "needs": ["您买车最看重哪方面？", "您平时主要怎么用车？", "您现在开的是什么车？", "主要是谁开？",
              "现在的车有什么不满意的地方？", "家里平时几个人坐车？", "您平时跑市区多还是高速多？",
              "对新车有什么必须要的配置吗？"],
    "walk": ["这是新款，上周刚到的。", "我带您绕车看一圈。", "这是内饰，您坐进去感受一下。", "这个配置多了升级包。",
             "目前有什么问题吗？", "您觉得这车怎么样？", "您去后排坐坐看。", "绕车介绍大概就是这些。",
             "这就是电话里跟您说的那台。"],
    "drive": ["开着感觉怎么样？", "试驾路线就到这儿了。", "刚才开下来您觉得怎么样？", "坐着舒服吗？", "开完了有什么感受？"],
    "price": ["这款指导价二十一万九八。", "这是价格表您看一下。", "全部算下来落地大概二十四万。", "这个配置我最多就能给到这个价。",
              "月供大概四千出头。", "这个价格您觉得怎么样？", "这是我们的网络价。", "我刚去找经理申请了一下。"],
    "finance": ["您是全款还是贷款？", "金融专员可以给您讲一下方案。", "我给您看看分期方案。", "利率要看您的征信情况。"],
    "trade": ["您现在的车贷款还完了吗？", "评估师已经看过您的车了。", "说说您现在那台车的情况。"],
    "stock": ["这款店里有几台现车。", "这个要从厂家订。", "现在有几个颜色有现车。", "我查一下系统里的库存。"],
    "close": ["您看怎么样？", "还有什么顾虑吗？", "您看怎么样才能今天定下来？", "现在考虑得怎么样了？", "下一步您怎么打算？"],
    "compet": ["您还在对比哪些车？", "还去过别的店吗？", "跟您之前看的比怎么样？"],
    "decide": ["以后主要谁开？", "买车这事家里谁参与？", "现在进行到哪一步了？"],
    "time": ["您打算什么时候买？", "大概什么时候用车？", "用车急不急？"],
    "small": ["今天过得怎么样？", "路上好找吗？", "今天天气不错哈。", "不好意思久等了，今天人多。"],
}
EN_CUST_CTX = ["Hi, we're just starting to look around.", "What's this one here?", "How much is this one?",
               "Does it come in other colors?", "Okay.", "Hmm, interesting.", "Can you tell me about this one?",
               "What's the warranty like?", "I drive a 2015 Accord now.", "We'll probably need financing.",
               "Is this the hybrid?", "That's a bit more than I expected.", "We're also looking at the RAV4.",
               "We need something for the family.", "Can I sit in it?", "What's the difference between the trims?",
               "I'll think about it.", "How was the drive, honey?", "Let me see the back seat."]
ZH_CUST_CTX = ["你好，我们随便看看。", "这台是什么车？", "这车多少钱？", "还有别的颜色吗？", "嗯。", "哦，这样啊。",
               "给我介绍一下这款吧。", "质保是怎么样的？", "我现在开的是2015年的雅阁。", "我们可能要贷款。",
               "这是混动的吗？", "比我想的贵一点。", "我们也在看RAV4。", "家用的，孩子小。", "能坐进去看看吗？",
               "几个配置有什么区别？", "我再考虑考虑。", "老公，你开着感觉怎么样？", "后排我看一下。"]
EN_CUST_PRIOR = ["Hmm.", "Let me see.", "Honey, come look at this.", "What do you think?", "Okay.",
                 "I like this one.", "Look at the back seat.", "Interesting."]
ZH_CUST_PRIOR = ["嗯。", "我看看。", "老婆你过来看看。", "你觉得呢？", "好的。", "这台还行。", "你看后排。", "有意思。"]

TOPICS = {  # label prefix -> context topics it is usually said after
    "pref.body": ["needs", "open", "walk"], "pref.powertrain": ["needs", "open", "walk"],
    "pref.priority": ["needs", "walk", "drive"], "pref.model": ["open", "needs"], "pref.color": ["walk", "stock"],
    "obj.price": ["price", "close"], "intent.negotiation": ["price", "close"], "intent.quote": ["walk", "price"],
    "obj.financing": ["finance", "price"], "intent.financing": ["finance", "price"],
    "obj.trade_in": ["trade", "price"], "intent.trade_in_appraisal": ["trade", "needs"],
    "obj.competitor": ["compet", "price", "close"], "obj.timing": ["close", "time"], "intent.defer": ["close"],
    "intent.commitment": ["close", "price"], "intent.timeline_near": ["time", "close", "needs"],
    "obj.approval": ["decide", "close"], "obj.feature": ["walk", "drive"], "obj.availability": ["stock"],
    "intent.availability": ["stock", "walk"], "obj.running_cost": ["walk", "price"], "obj.trust": ["price", "close", "walk"],
    "intent.test_drive": ["walk"], "intent.browsing": ["open", "small"], "": ["open", "small", "walk", "needs"],
    "role.decision_maker": ["decide", "close", "price"], "role.primary_driver": ["needs", "decide", "open"],
    "role.influencer": ["compet", "decide", "walk"],
}

# --------------------------------------------------------------------------------------------
# Template matrix: salesperson yes/no questions x short answers. Label sets are for a "yes".
# --------------------------------------------------------------------------------------------
EN_MATRIX = [
    ("offer", ["intent.test_drive"], ["Want to take it for a spin?", "Would you like to test drive it?",
                                      "Shall I grab the keys so you can drive it?", "Do you want to take it out on the road?",
                                      "Want to see how it drives?"]),
    ("offer", ["intent.financing"], ["Should I get finance to run some numbers?", "Want me to check what rate you'd qualify for?",
                                     "Would you like to see some lease options?", "Do you want me to work out a monthly payment?"]),
    ("offer", ["intent.quote"], ["Want me to put together an out-the-door price?", "Should I print you a quote?",
                                 "Would you like me to write up the numbers?"]),
    ("offer", ["intent.trade_in_appraisal"], ["Want our appraiser to take a look at your car?",
                                              "Should I get a value on your trade?", "Would you like to know what your car is worth to us?"]),
    ("offer", ["intent.availability"], ["Want me to check what we have on the lot?",
                                        "Should I see if another store has one?", "Want me to look up the delivery date?"]),
    ("offer", ["intent.commitment"], ["Ready to put down a deposit?", "Should we start the paperwork?", "Shall I write it up?",
                                      "Do we have a deal?"]),
    ("fact", ["intent.timeline_near"], ["Are you looking to buy in the next couple of weeks?", "Do you need the car this month?"]),
    ("fact", ["intent.browsing"], ["Are you just looking around today?", "Just browsing today?"]),
    ("fact", ["obj.approval", "role.decision_maker"], ["Does your wife need to see it before you decide?",
                                                       "Would your husband want to weigh in first?"]),
    ("fact", ["intent.defer"], ["Do you want some time to think it over?", "Would you like to sleep on it?"]),
    ("fact", ["pref.priority.safety"], ["Is safety a big priority for you?"]),
    ("fact", ["pref.priority.fuel_economy"], ["Is gas mileage important to you?"]),
    ("fact", ["pref.priority.space"], ["Do you need a lot of room?"]),
    ("fact", ["pref.powertrain.ev"], ["Are you interested in going electric?"]),
    ("fact", ["pref.powertrain.hybrid"], ["Would a hybrid work for you?"]),
    ("fact", ["pref.body.suv"], ["Are you thinking SUV?"]),
    ("fact", ["pref.body.mpv"], ["Have you thought about a minivan?"]),
    ("fact", ["obj.competitor"], ["Are you shopping other brands too?"]),
]
EN_ANSWERS = {
    ("offer", True): ["Yeah, let's do it.", "Sure.", "Yes, please.", "Sure, why not.", "Sounds good.", "Okay.",
                      "Yeah, go ahead.", "Let's do it.", "Absolutely.", "That'd be great.", "Yeah, okay."],
    ("offer", False): ["No thanks.", "Not right now.", "Nah, I'm good.", "No, that's okay.", "I'll pass, thanks."],
    ("fact", True): ["Yeah.", "Yes.", "Yep.", "Definitely.", "Pretty much.", "Yeah, for sure.", "I think so, yeah.",
                     "Mm-hm.", "Very much so."],
    ("fact", False): ["No.", "Not really.", "Nope.", "Not at all.", "No, not really."],
}
ZH_MATRIX = [
    ("offer", ["intent.test_drive"], ["要不要试驾一下？", "开出去转一圈？", "我去拿钥匙，您开一下？", "上路感受一下？", "要不要试试开起来怎么样？"]),
    ("offer", ["intent.financing"], ["要不要让金融专员给您算算？", "我帮您看看能批多少利率？", "给您看看分期方案？", "帮您算一下月供？"]),
    ("offer", ["intent.quote"], ["我给您算个落地价？", "给您出个报价单？", "要不要我把价格写下来给您？"]),
    ("offer", ["intent.trade_in_appraisal"], ["让评估师看看您的旧车？", "旧车要不要评估一下？", "想知道您的车能值多少吗？"]),
    ("offer", ["intent.availability"], ["我帮您查一下库存？", "要不要问问别的店有没有车？", "我查一下交车时间？"]),
    ("offer", ["intent.commitment"], ["要不要先交个订金？", "那我准备合同了？", "那就这么定了？", "今天就定下来？"]),
    ("fact", ["intent.timeline_near"], ["是这两周就准备买吗？", "这个月就要用车吗？"]),
    ("fact", ["intent.browsing"], ["今天就是随便看看？", "先了解了解是吧？"]),
    ("fact", ["obj.approval", "role.decision_maker"], ["是不是得让您爱人也看看？", "要跟家里商量一下再定吗？"]),
    ("fact", ["intent.defer"], ["要不要回去再考虑一下？", "您是想再想想？"]),
    ("fact", ["pref.priority.safety"], ["安全这块您特别看重？"]),
    ("fact", ["pref.priority.fuel_economy"], ["油耗您比较在意吧？"]),
    ("fact", ["pref.priority.space"], ["空间要大一点的？"]),
    ("fact", ["pref.powertrain.ev"], ["考虑纯电吗？"]),
    ("fact", ["pref.powertrain.hybrid"], ["插混的您能接受吗？"]),
    ("fact", ["pref.body.suv"], ["您是想要SUV？"]),
    ("fact", ["pref.body.mpv"], ["MPV考虑吗？"]),
    ("fact", ["obj.competitor"], ["还在看别的品牌吗？"]),
]
ZH_ANSWERS = {
    ("offer", True): ["行。", "好。", "好啊。", "可以。", "行啊。", "好的。", "没问题。", "嗯，可以。", "那行。", "行，麻烦你了。", "可以可以。"],
    ("offer", False): ["不用了。", "先不用。", "不了，谢谢。", "算了吧。", "今天先不了。"],
    ("fact", True): ["对。", "是的。", "嗯，对。", "是啊。", "对对对。", "嗯。", "差不多。", "对的。"],
    ("fact", False): ["不是。", "没有。", "也不是。", "不太。", "不是的。"],
}

# --------------------------------------------------------------------------------------------
# Noise
# --------------------------------------------------------------------------------------------
EN_FILLERS = ["uh", "um", "so", "well", "yeah", "okay so", "I mean", "honestly", "you know", "uh, so", "hmm",
              "oh", "like", "alright", "see"]
EN_SHORT_FILLERS = ["uh", "um", "hmm", "oh", "uh,", "well"]
EN_MID = ["uh", "um", "like", "you know", "I mean"]
EN_TAILS = [", you know", ", I guess", ", honestly", ", really", " though"]
EN_CONTRACT = [("I'm", "I am"), ("don't", "do not"), ("we're", "we are"), ("it's", "it is"), ("can't", "cannot"),
               ("I'd", "I would"), ("I'll", "I will"), ("that's", "that is"), ("doesn't", "does not"),
               ("we'll", "we will"), ("isn't", "is not"), ("won't", "will not"), ("what's", "what is")]
ZH_FILLERS = ["嗯", "那个", "就是", "呃", "哎", "这个", "你看", "嗯，那个", "然后", "对了", "我说", "那什么"]
ZH_Q_FILLERS = ["我想问一下", "问一下", "那个我问下"]
ZH_MID = ["那个", "就是", "嗯", "就是说", "这个"]
ZH_TAILS = ["啊", "哈", "呀"]
EN_ONES = ["", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
           "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen"]
EN_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
ZH_DIGITS = "零一二三四五六七八九"
PRICE_LABELS = {"obj.price", "intent.negotiation", "obj.trade_in", "obj.financing", "intent.quote",
                "intent.financing", "intent.commitment", "obj.competitor"}


def rng_lower(rng: random.Random) -> bool:
    return rng.random() < 0.7


def stable_hash(s: str) -> int:
    return int(hashlib.sha1(s.encode("utf-8")).hexdigest()[:12], 16)


# ------------------------------------------------------------------ numbers
def en_num(n: int) -> str:
    if n < 20:
        return EN_ONES[n] or "zero"
    if n < 100:
        t, o = divmod(n, 10)
        return EN_TENS[t] + ("-" + EN_ONES[o] if o else "")
    if n < 1000:
        h, r = divmod(n, 100)
        return EN_ONES[h] + " hundred" + (" " + en_num(r) if r else "")
    th, r = divmod(n, 1000)
    return en_num(th) + " thousand" + (" " + en_num(r) if r else "")


def en_year(y: int) -> str:
    if 2000 <= y <= 2009:
        return "two thousand " + EN_ONES[y - 2000] if y > 2000 else "two thousand"
    return en_num(y // 100) + " " + en_num(y % 100)


def zh_num(n: int) -> str:
    """Colloquial Mandarin reading of a non-negative integer < 1e8."""
    if n == 0:
        return "零"
    if n >= 10000:
        hi, lo = divmod(n, 10000)
        s = zh_num(hi) + "万"
        if lo:
            s += ("零" if lo < 1000 else "") + zh_num(lo)
        return s
    out, zero = [], False
    for unit, val in (("千", 1000), ("百", 100), ("十", 10), ("", 1)):
        d, n = divmod(n, val)
        if d:
            if zero:
                out.append("零")
                zero = False
            digit = "两" if d == 2 and unit in ("千", "百") else ZH_DIGITS[d]
            out.append(digit + unit)
        elif out:
            zero = True
    s = "".join(out)
    if s.startswith("一十"):
        s = s[1:]
    return s


ZH_NUM_MAP = {c: i for i, c in enumerate(ZH_DIGITS)}
ZH_NUM_MAP["两"] = 2


def zh_parse_small(s: str) -> int | None:
    """Parse 一..九十九 written in characters."""
    if not s:
        return None
    if "十" in s:
        a, _, b = s.partition("十")
        tens = ZH_NUM_MAP.get(a, None) if a else 1
        ones = ZH_NUM_MAP.get(b, None) if b else 0
        if tens is None or ones is None:
            return None
        return tens * 10 + ones
    if len(s) == 1 and s in ZH_NUM_MAP:
        return ZH_NUM_MAP[s]
    return None


# ------------------------------------------------------------------ slot swapping
def _en_slot_table():
    table = []
    for cls, names in EN_SLOTS.items():
        for n in names:
            table.append((n, cls))
    extra = [(n.lower(), c) for n, c in table
             if re.search(r"[0-9-]", n) or (n.isupper() and len(n) > 1)]
    table = sorted(set(table + extra), key=lambda x: (-len(x[0]), x[0]))
    pat = "|".join(re.escape(n) for n, _ in table)
    return {n.lower(): c for n, c in table}, re.compile(r"(?<![\w-])(" + pat + r")(s?)(?![\w-])")


def _zh_slot_table():
    table = []
    for cls, names in ZH_SLOTS.items():
        for n in names:
            if len(n) >= 2 or cls == "suv_short":
                table.append((n, cls))
    table.sort(key=lambda x: -len(x[0]))
    pat = "|".join(re.escape(n) for n, _ in table)
    # a bare 唐 only when followed by DM / 的 / 那 etc. is too fiddly: suv_short only with PLUS/Pro forms
    return {n.lower(): c for n, c in table}, re.compile("(" + pat + ")", re.IGNORECASE)


EN_SLOT_CLS, EN_SLOT_RE = _en_slot_table()
ZH_SLOT_CLS, ZH_SLOT_RE = _zh_slot_table()
EN_SURFACES = {n.lower() for names in EN_SLOTS.values() for n in names}
EN_COLOR_RE = re.compile(r"(?<![\w-])(" + "|".join(re.escape(c) for c in sorted(EN_COLORS, key=len, reverse=True))
                         + r"|grey)(?![\w-])(?! Friday)", re.IGNORECASE)
ZH_COLOR_RE = re.compile("(" + "|".join(re.escape(c) for c in sorted(ZH_COLORS, key=len, reverse=True)) + ")")
ZH_COLOR_SHORT_RE = re.compile("(?<![明空坦])(" + "|".join(ZH_COLOR_SHORT) + ")")
EN_NAME_RE = re.compile(r"\b(" + "|".join(EN_NAMES) + r")\b")
EN_REL_RE = re.compile(r"\b[Mm]y (" + "|".join(sorted({r[3:] for g in EN_RELATIVES.values() for r in g},
                                                          key=len, reverse=True)) + r")\b")
EN_REL_GROUP = {r[3:]: g for g, rs in EN_RELATIVES.items() for r in rs}
EN_YEAR_RE = re.compile(r"\b(20[01]\d)\b")
EN_TENS_WORDS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
EN_NOT_MONEY_RE = re.compile(r"\s*(?:\w+\s+)?(?:month|percent|mile|day|year|minute|hour|week|horsepower|mpg|kilo)",
                             re.IGNORECASE)
EN_TENS_RE = re.compile(r"\b(" + "|".join(EN_TENS_WORDS) + r")\b", re.IGNORECASE)
ZH_WAN_RE = re.compile(r"([一二两三四五六七八九十]{1,3}|\d{1,3})(万)")
ZH_XIAO_RE = re.compile("(小)([" + ZH_XIAO + "])(?=[^\u4e00-\u9fff]|今天|上次|在|是|吗|呢|，|。|$)")
ZH_REL_WORDS = sorted({w for g in ZH_RELATIVES for w in g} - ZH_REL_NO_SOURCE, key=len, reverse=True)
ZH_REL_RE = re.compile("(" + "|".join(re.escape(w) + ("(?![妈爸])" if w in ("我爸", "我妈") else "")
                                       for w in ZH_REL_WORDS) + ")")
ZH_REL_GROUP = {}
for _g in ZH_RELATIVES:
    for _w in _g:
        ZH_REL_GROUP.setdefault(_w, _g)
ZH_SURNAME_RE = re.compile("(姓)([" + ZH_XIAO + "])")


class Swapper:
    """Consistent slot substitution over one dialogue (context + text)."""

    def __init__(self, lang: str, rng: random.Random, labels: list[str], speaker: str):
        self.lang, self.rng = lang, rng
        self.map: dict[str, str] = {}
        self.used: set[str] = set()
        self.colors_ok = "pref.color" in labels or speaker == "salesperson"
        self.money_ok = bool(PRICE_LABELS & set(labels)) or speaker == "salesperson"
        self.money_delta = None

    def _pick(self, key: str, pool: list[str]) -> str:
        if key not in self.map:
            orig = key.split(":", 1)[1].lower()
            cands = [p for p in pool if p.lower() != orig and p not in self.used] or pool
            choice = self.rng.choice(cands)
            self.map[key] = choice
            self.used.add(choice)
        return self.map[key]

    def apply(self, s: str) -> str:
        return self._apply_en(s) if self.lang == "en" else self._apply_zh(s)

    def _apply_en(self, s: str) -> str:
        def model(m):
            name, plural = m.group(1), m.group(2)
            cls = EN_SLOT_CLS[name.lower()]
            new = self._pick("m:" + name.lower(), EN_SLOTS[cls])
            if name.islower() and rng_lower(self.rng):
                new = new.lower()
            if plural and new.endswith("s"):
                plural = ""
            return new + plural

        s = EN_SLOT_RE.sub(model, s)
        if self.colors_ok:
            def color(m):
                new = self._pick("c:" + m.group(1).lower(), EN_COLORS)
                return new[0].upper() + new[1:] if m.group(1)[0].isupper() else new

            s = EN_COLOR_RE.sub(color, s)
        s = EN_NAME_RE.sub(lambda m: self._pick("n:" + m.group(1), EN_NAMES), s)

        def rel(m):
            who = m.group(1)
            grp = EN_REL_GROUP[who]
            new = self._pick("r:" + who, EN_RELATIVES[grp])
            return (m.group(0)[0]) + new[1:]  # keep the case of "My"/"my"

        s = EN_REL_RE.sub(rel, s)
        s = EN_YEAR_RE.sub(lambda m: self._pick("y:" + m.group(1), [str(y) for y in range(2008, 2022)]), s)
        if self.money_ok:
            if self.money_delta is None:
                self.money_delta = self.rng.choice([-1, 0, 1])
            d = self.money_delta

            def tens(m):
                w = m.group(1)
                rest = re.sub(r"^-\w+", "", m.string[m.end():])
                if EN_NOT_MONEY_RE.match(rest):
                    return w
                i = EN_TENS_WORDS.index(w.lower()) + d
                if 0 <= i < len(EN_TENS_WORDS):
                    new = EN_TENS_WORDS[i]
                    return new.capitalize() if w[0].isupper() else new
                return w

            s = EN_TENS_RE.sub(tens, s)
        return s

    def _apply_zh(self, s: str) -> str:
        def model(m):
            name = m.group(1)
            cls = ZH_SLOT_CLS[name.lower()]
            return self._pick("m:" + name.lower(), ZH_SLOTS[cls])

        s = ZH_SLOT_RE.sub(model, s)
        if self.colors_ok:
            s = ZH_COLOR_RE.sub(lambda m: self._pick("c:" + m.group(1), ZH_COLORS), s)
            s = ZH_COLOR_SHORT_RE.sub(lambda m: self._pick("cs:" + m.group(1), ZH_COLOR_SHORT), s)
        s = ZH_REL_RE.sub(lambda m: self._pick("rel:" + m.group(1), ZH_REL_GROUP[m.group(1)]), s)
        s = ZH_XIAO_RE.sub(lambda m: m.group(1) + self._pick("x:" + m.group(2), list(ZH_XIAO)), s)
        s = ZH_SURNAME_RE.sub(lambda m: m.group(1) + self._pick("x:" + m.group(2), list(ZH_XIAO)), s)
        s = re.sub(r"(20[01]\d)(?=年)", lambda m: self._pick("y:" + m.group(1), [str(y) for y in range(2008, 2022)]), s)
        if self.money_ok:
            s = self._zh_money(s)
        return s

    def _zh_money(self, s: str) -> str:
        found = [m for m in ZH_WAN_RE.finditer(s)]
        vals = []
        for m in found:
            g = m.group(1)
            v = int(g) if g.isdigit() else zh_parse_small(g)
            vals.append(v)
        if not found or any(v is None for v in vals):
            return s
        if self.money_delta is None:
            small = min(vals) < 10
            self.money_delta = self.rng.choice([-1, 0, 1, 2] if small else [-3, -2, 0, 2, 3, 5])
        d = self.money_delta
        if min(vals) + d < 1:
            return s

        def sub(m):
            g = m.group(1)
            v = (int(g) if g.isdigit() else zh_parse_small(g)) + d
            return (str(v) if g.isdigit() else zh_num(v)) + m.group(2)

        return ZH_WAN_RE.sub(sub, s)


# ------------------------------------------------------------------ noise
def en_lower_first(s: str) -> str:
    m = re.match(r"([A-Za-z][\w'-]*)", s)
    if not m:
        return s
    w = m.group(1)
    if w in ("I", "I'm", "I'd", "I'll", "I've") or w.lower() in EN_SURFACES or not w[1:].islower() and len(w) > 1:
        return s
    return s[0].lower() + s[1:]


def en_noise(text: str, rng: random.Random, short: bool) -> str:
    t = text
    if not short and rng.random() < 0.15:
        a, b = rng.choice(EN_CONTRACT)
        t = re.sub(r"\b" + re.escape(a) + r"\b", b, t, count=1)
    if rng.random() < (0.35 if not short else 0.2):
        f = rng.choice(EN_SHORT_FILLERS if short else EN_FILLERS)
        sep = " " if f.endswith(",") else ", "
        t = f[0].upper() + f[1:] + sep + en_lower_first(t)
    words = t.split(" ")
    if not short and len(words) >= 6 and rng.random() < 0.2:
        cands = [i for i in range(2, len(words) - 1)
                 if re.fullmatch(r"[a-z']+,?", words[i - 1]) and re.fullmatch(r"[a-z']+", words[i])]
        if cands:
            i = rng.choice(cands)
            words.insert(i, rng.choice(EN_MID) + ("," if rng.random() < 0.3 else ""))
            t = " ".join(words)
    if not short and rng.random() < 0.08:
        w = t.split(" ", 1)
        if len(w) == 2 and re.fullmatch(r"[A-Za-z']+", w[0]):
            t = w[0] + " " + w[0].lower() + " " + w[1]
    if not short and rng.random() < 0.1 and t.endswith("."):
        t = t[:-1] + rng.choice(EN_TAILS) + "."
    return t


def en_asr(s: str, rng: random.Random, drop_apos: bool, spell_years: bool) -> str:
    if spell_years:
        s = EN_YEAR_RE.sub(lambda m: en_year(int(m.group(1))), s)
    s = re.sub(r"(\d),(\d{3})", r"\1\2", s)
    s = s.lower()
    s = re.sub(r"(?<=\w)-(?=\w)", " " if rng.random() < 0.5 else "-", s)
    s = re.sub(r"[.,!?;:\"()]", " ", s)
    if drop_apos:
        s = s.replace("'", "")
    return re.sub(r"\s+", " ", s).strip()


def zh_noise(text: str, rng: random.Random, short: bool) -> str:
    t = text
    is_q = t.endswith("？") or t.endswith("吗") or "多少" in t
    if rng.random() < (0.4 if not short else 0.25):
        if is_q and not short and rng.random() < 0.4:
            f = rng.choice(ZH_Q_FILLERS)
        else:
            f = rng.choice(ZH_FILLERS[:6] if short else ZH_FILLERS)
        t = f + "，" + t if rng.random() < 0.6 else f + t
    if not short and "，" in t and rng.random() < 0.2:
        idx = [i for i, c in enumerate(t) if c == "，"]
        i = rng.choice(idx)
        t = t[:i + 1] + rng.choice(ZH_MID) + t[i + 1:]
    if not short and rng.random() < 0.08:
        m = re.match(r"(我们|我|这个|就是|你们|那个)", t)
        if m:
            t = m.group(1) + t
    if not short and t.endswith("。") and t[-2:-1] not in "吧吗呢啊了哈呀嘛的" and rng.random() < 0.15:
        t = t[:-1] + rng.choice(ZH_TAILS) + "。"
    return t


def zh_asr(s: str, rng: random.Random, spaces: bool, spell: bool) -> str:
    if spell:
        s = re.sub(r"(20[0-2]\d)(?=年)", lambda m: "".join(ZH_DIGITS[int(c)] for c in m.group(1)), s)
        s = re.sub(r"(\d+)\.(\d+)", lambda m: zh_num(int(m.group(1))) + "点" + "".join(ZH_DIGITS[int(c)] for c in m.group(2)), s)
        s = re.sub(r"(?<![A-Za-z0-9])(?<![A-Za-z] )(\d{1,7})(?![A-Za-z0-9])", lambda m: zh_num(int(m.group(1))), s)
    s = s.lower() if rng.random() < 0.7 else s
    if rng.random() < 0.3:
        s = s.replace("dm-i", "dmi").replace("DM-i", "DMI")
    s = re.sub(r"[，。？！、：；,.!?;:“”\"（）()]", " " if spaces else "", s)
    return re.sub(r"\s+", " ", s).strip()


# ------------------------------------------------------------------ generation
def load_seeds(lang: str) -> list[dict]:
    rows = []
    with open(CORPUS / f"seeds_{lang}.jsonl", encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def is_short(lang: str, text: str) -> bool:
    if lang == "en":
        return len(re.findall(r"[A-Za-z']+", text)) <= 3
    return len(re.sub(r"[，。？！、\s]", "", text)) <= 4


def topic_for(labels: list[str]) -> list[str]:
    # Role labels were added to some first-release seeds later: they pick the topic only when
    # nothing else does, so those seeds keep the contexts they had.
    labels = [l for l in labels if l not in ROLE_LABELS] or labels
    if not labels:
        return TOPICS[""]
    for l in labels:
        if l in TOPICS:
            return TOPICS[l]
    for l in labels:
        p = ".".join(l.split(".")[:2])
        if p in TOPICS:
            return TOPICS[p]
    return TOPICS[""]


def pick_context(lang: str, seed: dict, rng: random.Random, variant: int):
    """Return (context, context_speaker) for a variant of a seed."""
    if seed["context"]:
        return seed["context"], seed["context_speaker"]
    ctx_pools = EN_CTX if lang == "en" else ZH_CTX
    if seed["speaker"] == "salesperson":
        if rng.random() < 0.2:
            return "", ""
        return rng.choice(EN_CUST_CTX if lang == "en" else ZH_CUST_CTX), "customer"
    r = rng.random()
    if variant == 0 and r < 0.5:
        return "", ""
    if r < 0.12:
        return "", ""
    if r < 0.2 and seed["speaker"] in ("customer", "companion"):
        return rng.choice(EN_CUST_PRIOR if lang == "en" else ZH_CUST_PRIOR), "customer"
    short = is_short(lang, seed["text"])
    topics = ["open", "small", "walk"] if short and not seed["labels"] else topic_for(seed["labels"])
    return rng.choice(ctx_pools[rng.choice(topics)]), "salesperson"


def render(lang: str, seed: dict, rng: random.Random, variant: int) -> dict:
    ctx, cspk = pick_context(lang, seed, rng, variant)
    text = seed["text"]
    speaker = seed["speaker"]
    if variant > 0:
        sw = Swapper(lang, rng, seed["labels"], speaker)
        if ctx:
            ctx = sw.apply(ctx)
        text = sw.apply(text)
        short = is_short(lang, text)
        if lang == "en":
            text = en_noise(text, rng, short)
            if ctx and rng.random() < 0.15:
                ctx = en_noise(ctx, rng, is_short(lang, ctx))
        else:
            text = zh_noise(text, rng, short)
            if ctx and rng.random() < 0.15:
                ctx = zh_noise(ctx, rng, is_short(lang, ctx))
        if rng.random() < 0.35:  # ASR-style transcript for the whole exchange
            if lang == "en":
                da, sy = rng.random() < 0.4, rng.random() < 0.5
                text = en_asr(text, rng, da, sy)
                ctx = en_asr(ctx, rng, da, sy) if ctx else ctx
            else:
                sp, spell = rng.random() < 0.5, rng.random() < 0.6
                text = zh_asr(text, rng, sp, spell)
                ctx = zh_asr(ctx, rng, sp, spell) if ctx else ctx
        if (speaker == "customer" and "obj.approval" not in seed["labels"] and rng.random() < 0.08
                and not re.search(r"\b[Mm]y (wife|husband|partner)\b|老婆|老公|媳妇|爱人", text)):
            speaker = "companion"
    return {"context": ctx, "context_speaker": cspk if ctx else "", "text": text,
            "speaker": speaker, "labels": list(seed["labels"])}


def assign_splits(seeds: list[dict], lang: str) -> list[str]:
    """Stratified by first label (or none / salesperson): ~80/10/10 per stratum. The first
    release's seeds and the ones appended later are dealt separately (FIRST_RELEASE_SEEDS)."""
    first, third = FIRST_RELEASE_SEEDS[lang], THIRD_BLOCK_SEEDS[lang]
    return (deal(seeds[:first], random.Random(f"{SEED}-split-{lang}"))
            + deal(seeds[first:third], random.Random(f"{SEED}-split-{lang}-appended"))
            + deal(seeds[third:], random.Random(f"{SEED}-split-{lang}-third")))


def deal(seeds: list[dict], rng: random.Random) -> list[str]:
    groups = defaultdict(list)
    for i, s in enumerate(seeds):
        # Role labels appended to a first-release seed do not change its stratum.
        own = [l for l in s["labels"] if l not in ROLE_LABELS] or s["labels"]
        key = own[0] if own else ("_sales" if s["speaker"] == "salesperson" else "_none")
        groups[key].append(i)
    split = [""] * len(seeds)
    for key in sorted(groups):
        idx = groups[key]
        rng.shuffle(idx)
        offset = rng.randrange(10)
        for k, i in enumerate(idx):
            r = (k + offset) % 10
            split[i] = "valid" if r == 8 else "test" if r == 9 else "train"
    return split


def generate_lang(lang: str) -> dict[str, list[dict]]:
    seeds = load_seeds(lang)
    splits = assign_splits(seeds, lang)
    out = {"train": [], "valid": [], "test": []}
    appended = {"train": [], "valid": [], "test": []}  # from seeds after FIRST_RELEASE_SEEDS
    third = {"train": [], "valid": [], "test": []}  # from seeds after THIRD_BLOCK_SEEDS
    matrix = EN_MATRIX if lang == "en" else ZH_MATRIX
    answers = EN_ANSWERS if lang == "en" else ZH_ANSWERS
    n_matrix = sum(len(qs) for _, _, qs in matrix) * 5
    budget = TARGET_PER_LANG - n_matrix
    # Variants per seed as the first two blocks had them: more seeds do not thin out the old ones.
    per_seed = max(2, round(budget / max(1, min(len(seeds), THIRD_BLOCK_SEEDS[lang]))))
    for i, seed in enumerate(seeds):
        rng = random.Random(f"{SEED}-{lang}-{i}-{seed['text']}")
        n = per_seed + (2 if seed["speaker"] == "salesperson" else 0)
        seen, made, tries = set(), [], 0
        while len(made) < n and tries < n * 4:
            rec = render(lang, seed, rng, len(made) if tries < n * 3 else 1)
            tries += 1
            key = (rec["context"], rec["text"], rec["speaker"])
            if key in seen:
                continue
            seen.add(key)
            made.append(rec)
        for rec in made:
            rec["template"] = f"{lang}-seed-{i:04d}"
            block = out if i < FIRST_RELEASE_SEEDS[lang] else appended if i < THIRD_BLOCK_SEEDS[lang] else third
            block[splits[i]].append(rec)
    # template matrix: one template per question
    mrng = random.Random(f"{SEED}-{lang}-matrix")
    q_split_cycle = ["train"] * 8 + ["valid", "test"]
    qn = 0
    for kind, labels, questions in matrix:
        for q in questions:
            split = q_split_cycle[(stable_hash(f"{lang}-{q}") + qn) % 10]
            qn += 1
            tmpl = f"{lang}-matrix-{qn:03d}"
            yes = mrng.sample(answers[(kind, True)], 3)
            no = mrng.sample(answers[(kind, False)], 2)
            cust_ctx = EN_CUST_CTX if lang == "en" else ZH_CUST_CTX
            out[split].append({"context": mrng.choice(cust_ctx), "context_speaker": "customer", "text": q,
                               "speaker": "salesperson", "labels": [], "template": tmpl})
            for a, lab in [(a, labels) for a in yes] + [(a, []) for a in no]:
                ctx, text = q, a
                if mrng.random() < 0.3:
                    text = (en_noise(a, mrng, True) if lang == "en" else zh_noise(a, mrng, True))
                if mrng.random() < 0.3:
                    if lang == "en":
                        ctx, text = en_asr(ctx, mrng, False, False), en_asr(text, mrng, False, False)
                    else:
                        ctx, text = zh_asr(ctx, mrng, False, False), zh_asr(text, mrng, False, False)
                out[split].append({"context": ctx, "context_speaker": "salesperson", "text": text,
                                   "speaker": "customer", "labels": list(lab), "template": tmpl})
    # The first release's rows keep their order; the appended ones follow, shuffled apart.
    for split, rows in out.items():
        rng = random.Random(f"{SEED}-{lang}-shuffle-{split}")
        rng.shuffle(rows)
        later = appended[split]
        random.Random(f"{SEED}-{lang}-shuffle-{split}-appended").shuffle(later)
        rows.extend(later)
        newest = third[split]
        random.Random(f"{SEED}-{lang}-shuffle-{split}-third").shuffle(newest)
        rows.extend(newest)
    return out


def write_outputs(data: dict[str, dict[str, list[dict]]]) -> None:
    for split in ("train", "valid", "test"):
        with open(CORPUS / f"{split}.jsonl", "w", encoding="utf-8") as f:
            n = 0
            for lang in LANGS:
                for rec in data[lang][split]:
                    n += 1
                    row = {"id": f"{lang}-{split}-{n:05d}", "lang": lang, "template": rec["template"],
                           "context": rec["context"], "context_speaker": rec["context_speaker"],
                           "text": rec["text"], "speaker": rec["speaker"], "labels": rec["labels"]}
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    write_stats(data)


def write_stats(data) -> None:
    splits = ("train", "valid", "test")
    lines = ["# Corpus statistics", "",
             "Generated by `generate_corpus.py` (seed %d); do not edit by hand." % SEED, ""]
    lines += ["## Totals", "", "| lang | split | utterances | templates | zero-label | customer | companion | salesperson | with context |",
              "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for lang in LANGS:
        for sp in splits:
            rows = data[lang][sp]
            spk = Counter(r["speaker"] for r in rows)
            lines.append(f"| {lang} | {sp} | {len(rows)} | {len({r['template'] for r in rows})} | "
                         f"{sum(1 for r in rows if not r['labels'])} | {spk['customer']} | {spk['companion']} | "
                         f"{spk['salesperson']} | {sum(1 for r in rows if r['context'])} |")
        lines.append(f"| {lang} | all | {sum(len(data[lang][s]) for s in splits)} | | | | | | |")
    lines += ["", "## Utterances per label", "",
              "| label | en train | en valid | en test | zh train | zh valid | zh test | en seeds | zh seeds |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    counts = {(lang, sp): Counter(l for r in data[lang][sp] for l in r["labels"]) for lang in LANGS for sp in splits}
    seedc = {lang: Counter(l for s in load_seeds(lang) for l in s["labels"]) for lang in LANGS}
    for label in ALLOWED_LABELS:
        cells = [str(counts[(lang, sp)][label]) for lang in LANGS for sp in splits]
        lines.append(f"| `{label}` | " + " | ".join(cells) + f" | {seedc['en'][label]} | {seedc['zh'][label]} |")
    lines.append("")
    (CORPUS / "STATS.md").write_text("\n".join(lines), encoding="utf-8")


# ------------------------------------------------------------------ check
def check() -> int:
    problems = []
    for lang in LANGS:
        path = CORPUS / f"seeds_{lang}.jsonl"
        counts = Counter()
        seen = set()
        with open(path, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                try:
                    r = json.loads(line)
                except json.JSONDecodeError as e:
                    problems.append(f"{path.name}:{n}: bad JSON ({e})")
                    continue
                where = f"{path.name}:{n}"
                if set(r) != SEED_KEYS:
                    problems.append(f"{where}: keys {sorted(r)} != {sorted(SEED_KEYS)}")
                    continue
                if r["speaker"] not in SPEAKERS:
                    problems.append(f"{where}: bad speaker {r['speaker']!r}")
                if r["context_speaker"] not in CONTEXT_SPEAKERS or bool(r["context"]) != bool(r["context_speaker"]):
                    problems.append(f"{where}: context/context_speaker mismatch")
                if not r["text"].strip():
                    problems.append(f"{where}: empty text")
                if r["speaker"] == "salesperson" and r["labels"]:
                    problems.append(f"{where}: salesperson utterance with labels")
                if len(set(r["labels"])) != len(r["labels"]):
                    problems.append(f"{where}: duplicate labels")
                for l in r["labels"]:
                    if l not in ALLOWED_SET:
                        problems.append(f"{where}: unknown label {l!r}")
                    counts[l] += 1
                key = (r["context"].lower(), r["text"].lower())
                if key in seen:
                    problems.append(f"{where}: duplicate seed {r['text']!r}")
                seen.add(key)
        short = [(l, counts[l]) for l in ALLOWED_LABELS if counts[l] < MIN_SEEDS_PER_LABEL]
        for l, c in short:
            problems.append(f"{lang}: label {l} has {c} seeds (< {MIN_SEEDS_PER_LABEL})")
        print(f"{lang}: {len(seen)} seeds, min per label {min(counts[l] for l in ALLOWED_LABELS)} "
              f"({min(ALLOWED_LABELS, key=lambda l: counts[l])})")
    # generated files, if present
    tmpl_split = {}
    for split in ("train", "valid", "test"):
        p = CORPUS / f"{split}.jsonl"
        if not p.exists():
            continue
        with open(p, encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                r = json.loads(line)
                for l in r["labels"]:
                    if l not in ALLOWED_SET:
                        problems.append(f"{p.name}:{n}: unknown label {l!r}")
                if r["speaker"] == "salesperson" and r["labels"]:
                    problems.append(f"{p.name}:{n}: salesperson utterance with labels")
                prev = tmpl_split.setdefault(r["template"], split)
                if prev != split:
                    problems.append(f"template {r['template']} in both {prev} and {split}")
    for p in problems[:200]:
        print("PROBLEM:", p)
    print("check:", "OK" if not problems else f"{len(problems)} problem(s)")
    return 1 if problems else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="validate seeds (and generated files) and exit")
    args = ap.parse_args(argv)
    if args.check:
        return check()
    data = {lang: generate_lang(lang) for lang in LANGS}
    write_outputs(data)
    for lang in LANGS:
        print(lang, {sp: len(rows) for sp, rows in data[lang].items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
