"""Hand-written probe messages for the red-flag rules (not training data): (text, kwargs, expected rule level).

Expected level ``None`` means no rule may fire. Written from telephone-triage protocols, independently of the
vignette files, in both languages and in colloquial, terse and mixed styles.
"""

from __future__ import annotations

EMERGENCY = [
    # cardiac, typical and atypical
    ("가슴이 쥐어짜듯 아파요", {}, "emergency"),
    ("가슴이 답답하고 식은땀이 나요", {}, "emergency"),
    ("가슴 한가운데가 돌덩이로 누르는 것 같아요", {}, "emergency"),
    ("가슴이 아파요", {"age": 70}, "emergency"),
    ("crushing chest pain going down my left arm", {}, "emergency"),
    ("chest tightness and I'm sweating buckets", {}, "emergency"),
    ("my jaw aches and I'm short of breath and clammy", {}, "emergency"),
    ("당뇨 있는 68세 엄마가 숨이 차고 속이 메스껍고 식은땀을 흘려요", {}, "emergency"),
    ("명치가 체한 것처럼 답답하고 식은땀이 나요", {"age": 72}, "emergency"),
    ("Feels like an elephant sitting on my chest", {}, "emergency"),
    ("운동하다가 쓰러졌어요. 가슴이 두근거렸대요", {}, "emergency"),
    # stroke
    ("한쪽 팔다리에 힘이 빠져요", {}, "emergency"),
    ("말이 어눌해요", {}, "emergency"),
    ("아빠 입이 한쪽으로 돌아갔어요", {}, "emergency"),
    ("her face is drooping on one side and her speech is slurred", {}, "emergency"),
    ("suddenly can't lift my right arm", {}, "emergency"),
    ("갑자기 한쪽 눈이 안 보여요", {}, "emergency"),
    ("sudden loss of vision in my left eye", {}, "emergency"),
    ("할머니가 갑자기 헛소리를 하세요", {}, "emergency"),
    ("he's suddenly confused and doesn't know where he is", {}, "emergency"),
    ("물건이 두 개로 보이고 어지러워서 토했어요", {}, "emergency"),
    # breathing and airway
    ("숨이 안 쉬어져요", {}, "emergency"),
    ("숨이 차서 말을 못 하겠어요", {}, "emergency"),
    ("I can't breathe", {}, "emergency"),
    ("struggling to breathe, can only say a few words", {}, "emergency"),
    ("입술이 파래졌어요", {}, "emergency"),
    ("벤토린을 써도 숨이 계속 차요", {}, "emergency"),
    ("inhaler isn't helping and I'm wheezing badly", {}, "emergency"),
    ("아이가 떡이 목에 걸렸어요", {}, "emergency"),
    ("my son is choking on a grape", {}, "emergency"),
    # anaphylaxis
    ("새우 먹고 입술이 붓고 숨쉬기 힘들어요", {}, "emergency"),
    ("벌에 쏘였는데 목이 조여 와요", {}, "emergency"),
    ("ate peanuts, now my throat is closing and I have hives", {}, "emergency"),
    ("my tongue is swelling up", {}, "emergency"),
    # head
    ("태어나서 제일 심한 두통이에요", {}, "emergency"),
    ("갑자기 망치로 맞은 것처럼 머리가 아파요", {}, "emergency"),
    ("worst headache of my life, came on in seconds", {}, "emergency"),
    ("열이 나고 목이 뻣뻣해서 고개를 못 숙여요", {}, "emergency"),
    ("fever and a stiff neck, light hurts my eyes", {}, "emergency"),
    ("아이 다리에 눌러도 안 없어지는 보라색 반점이 생겼어요", {}, "emergency"),
    ("rash that doesn't fade when I press a glass on it", {}, "emergency"),
    ("머리를 부딪힌 뒤로 계속 토하고 졸려해요", {}, "emergency"),
    ("hit my head and I take warfarin", {}, "emergency"),
    ("fell and hit his head, was knocked out for a minute", {}, "emergency"),
    ("처음으로 경련을 했어요", {}, "emergency"),
    ("having a seizure that won't stop", {}, "emergency"),
    # gut and metabolic
    ("피를 토했어요", {}, "emergency"),
    ("변이 짜장면처럼 까매요", {}, "emergency"),
    ("vomiting blood", {}, "emergency"),
    ("black tarry poo since this morning", {}, "emergency"),
    ("오른쪽 아랫배가 아프고 열이 나요", {}, "emergency"),
    ("pain in my lower right tummy and I've been throwing up", {}, "emergency"),
    ("당뇨인데 혈당이 500이고 계속 토해요", {}, "emergency"),
    ("type 1 diabetic, ketones high and vomiting", {}, "emergency"),
    ("저혈당인데 사탕을 먹어도 정신이 오락가락해요", {}, "emergency"),
    # infection
    ("생후 6주 아기가 열이 38도예요", {}, "emergency"),
    ("my 2 month old has a temperature of 38.5", {}, "emergency"),
    ("아기가 열이 나요", {"age": 0.1}, "emergency"),
    ("항암치료 중인데 열이 38.3도예요", {}, "emergency"),
    ("on chemo and I've got a fever and chills", {}, "emergency"),
    ("열이 나고 헛소리를 하고 피부가 얼룩덜룩해요", {}, "emergency"),
    # pregnancy
    ("임신 8주인데 한쪽 아랫배가 찢어질 듯 아프고 하혈해요", {}, "emergency"),
    ("배가 아프고 피가 나요", {"pregnant": True}, "emergency"),
    ("I'm 7 weeks pregnant with sharp pain on one side and shoulder tip pain", {}, "emergency"),
    ("임신 34주인데 두통이 심하고 눈앞이 번쩍거려요", {}, "emergency"),
    ("임신 32주인데 양수가 터진 것 같아요", {}, "emergency"),
    ("출산 후 피가 멈추지 않고 패드가 한 시간에 다 젖어요", {}, "emergency"),
    ("아기 태동이 어제부터 거의 없어요", {}, "emergency"),
    # mental health
    ("죽고 싶어요", {}, "emergency"),
    ("I want to kill myself", {}, "emergency"),
    ("I have a plan to end my life tonight", {}, "emergency"),
    ("수면제를 모아 놨어요", {}, "emergency"),
    # poisoning, injury, environment
    ("아이가 락스를 마셨어요", {}, "emergency"),
    ("took 30 paracetamol tablets an hour ago", {}, "emergency"),
    ("두 살 아이가 동전 모양 건전지를 삼켰어요", {}, "emergency"),
    ("집에 있는 가족 모두 머리가 아프고 어지러워요. 보일러가 이상해요", {}, "emergency"),
    ("끓는 물에 얼굴을 데었어요", {}, "emergency"),
    ("손가락이 잘렸어요", {}, "emergency"),
    ("the bleeding won't stop even after pressing for 20 minutes", {}, "emergency"),
    ("고환이 갑자기 너무 아프고 토했어요", {}, "emergency"),
    ("sudden severe pain in my testicle", {}, "emergency"),
    ("허리가 아프고 엉덩이 주변 감각이 없고 소변이 안 나와요", {}, "emergency"),
    ("뱀에 물렸어요", {}, "emergency"),
    ("눈에 락스가 튀었어요", {}, "emergency"),
    ("수술 후 갑자기 숨이 차고 가슴이 찌르듯 아파요", {}, "emergency"),
    ("one calf swollen and now I'm short of breath", {}, "emergency"),
    ("가슴이 찢어지는 듯 아프고 등으로 뻗쳐요", {}, "emergency"),
    ("새로 먹은 약 이후 물집이 생기고 입안이 다 헐었어요", {}, "emergency"),
]

URGENT_FLOOR = [
    ("죽고 싶다는 생각이 들지만 계획은 없어요", {}, "urgent"),
    ("I sometimes think I'd be better off dead but I have no plan and won't act on it", {}, "urgent"),
    ("4개월 아기가 열이 38.5도예요", {}, "urgent"),
    ("임신 10주인데 갈색 피가 조금 비쳐요. 배는 안 아파요", {}, "urgent"),
    ("개한테 손을 물렸어요", {}, "urgent"),
    ("소변 볼 때 따갑고 열이 나고 옆구리가 아파요", {}, "urgent"),
    ("one leg is swollen and tight", {}, "urgent"),
    ("입술이 부었어요. 숨쉬는 건 괜찮아요", {}, "urgent"),
    ("new chest pain when I breathe in", {}, "urgent"),
    ("넘어진 뒤 발목이 많이 붓고 체중을 실을 수가 없어요", {}, "urgent"),
]

NO_RULE = [
    ("가슴 통증은 없어요. 콧물이 나요", {}, None),
    ("숨은 안 차요. 기침만 조금 해요", {}, None),
    ("no chest pain, just a runny nose", {}, None),
    ("denies shortness of breath; mild sore throat", {}, None),
    ("sore throat without fever", {}, None),
    ("열은 없고 목이 조금 아파요", {}, None),
    ("I had a heart attack 10 years ago, now I have a cold", {}, None),
    ("예전에 경련한 적이 있는데 지금은 감기 기운만 있어요", {}, None),
    ("죽고 싶을 정도로 목이 아파요ㅠㅠ 열은 없어요", {}, None),
    ("모기 물린 데가 가려워요", {}, None),
    ("발목을 삐었는데 걸을 수 있어요", {}, None),
    ("my toddler has a runny nose, no fever, eating and playing normally", {}, None),
    ("식중독인지 설사를 두 번 했어요. 물은 잘 마셔요", {}, None),
    ("목이 간질간질하고 마른기침이 나요", {}, None),
    ("I'm confused about how often to take my antibiotics", {}, None),
    ("heartburn after big meals for a month, antacids help", {}, None),
    ("stye on my eyelid, vision fine", {}, None),
    ("cold sore on my lip again", {}, None),
]

# Cardiac and abdominal phrasings added after the first dev evaluation (written from protocols, not from vignettes).
EMERGENCY += [
    ("My chest has felt tight for the last 40 minutes and it's not going away", {}, "emergency"),
    ("I have angina and my GTN spray isn't helping this time", {}, "emergency"),
    ("chest discomfort came on while I was sitting watching TV", {"age": 58}, "emergency"),
    ("heavy feeling in my chest and left arm since lunch", {}, "emergency"),
    ("my jaw and left arm ache and I feel sick", {"age": 64}, "emergency"),
    ("가슴이 조이는 느낌이 30분째 계속돼요", {}, "emergency"),
    ("가만히 있어도 가슴이 뻐근하게 아파요", {"age": 60}, "emergency"),
    ("협심증 약을 혀 밑에 넣어도 가슴 통증이 안 가라앉아요", {}, "emergency"),
    ("누우면 숨이 차서 앉아서 자요. 다리도 부었어요", {}, "emergency"),
    ("pain on the lower right side of my tummy and I've gone off my food", {}, "emergency"),
    ("right-sided abdominal pain that hurts more when I walk", {}, "emergency"),
    ("배 오른쪽 아래가 아프고 밥맛이 없어요", {}, "emergency"),
]

# Markers of severe illness that make any presentation an emergency (NICE sepsis / NEWS2 high-risk criteria), in
# clinical and lay register. Written from the criteria, not from vignettes.
SEVERITY_EMERGENCY = [
    ("Cough and fever for 3 days. SpO2 89% on room air.", {}, "emergency"),
    ("my pulse oximeter says 90% and I feel breathless", {}, "emergency"),
    ("기침과 가래가 있고 산소포화도 90%로 측정되었다.", {}, "emergency"),
    ("폐렴 진단 후 집에서 잰 산소 포화도가 88%예요", {}, "emergency"),
    ("호흡수 32회, 체온 38.6도.", {}, "emergency"),
    ("RR 34/min, temp 38.1", {}, "emergency"),
    ("he is breathing about 40 times a minute", {}, "emergency"),
    ("아기가 숨을 1분에 70번 쉬어요", {"age": 0.5}, "emergency"),
    ("She looks pale and her lips are turning blue.", {}, "emergency"),
    ("입술이 푸르스름하게 변했다.", {}, "emergency"),
    ("Jaundiced for a week and now confused about where she is.", {}, "emergency"),
    ("황달과 함께 혼돈이 관찰된다.", {}, "emergency"),
    ("눈이 노랗게 변했고 오늘부터 자꾸 졸려하며 날짜를 헷갈린다.", {}, "emergency"),
    ("yellow eyes, bleeding gums and bruising all over", {}, "emergency"),
    ("피부가 노랗고 원인 모를 멍이 여러 개 생겼다.", {}, "emergency"),
    ("has not been able to keep fluids down all day and is pale, clammy and lightheaded", {}, "emergency"),
    ("물도 못 넘기고 계속 토하며 식은땀이 나고 얼굴이 창백하다.", {}, "emergency"),
    ("fainted on the toilet with diarrhoea this morning", {}, "emergency"),
    ("배가 아프다가 화장실에서 실신하였다.", {}, "emergency"),
    ("fever with mottled skin on the legs", {}, "emergency"),
    ("열이 나고 피부가 얼룩덜룩하다.", {}, "emergency"),
    ("BP 82/50, HR 124, febrile", {}, "emergency"),
    ("수축기 혈압 85, 오한과 고열.", {}, "emergency"),
    ("혈압이 뚝 떨어지고 어지러워 쓰러질 것 같다.", {}, "emergency"),
    ("fever 39.4 and heart rate 135 with chills", {}, "emergency"),
    ("체온 39도, 맥박 분당 132회, 오한.", {}, "emergency"),
    ("He has altered mental status since this morning.", {}, "emergency"),
    ("보호자에 따르면 오늘 아침부터 의식 저하가 있다.", {}, "emergency"),
    ("의식이 처지고 엉뚱한 대답을 한다.", {}, "emergency"),
    ("GCS 13 after vomiting all night", {}, "emergency"),
    ("headache like being hit with a bat, never had anything like it, vomited twice", {}, "emergency"),
    ("이런 두통은 처음이고 토를 두 번 했다.", {}, "emergency"),
    ("fever of 39, headache and a stiff neck", {}, "emergency"),
    ("on sertraline, took tramadol for toothache, now sweating, agitated, legs twitching, temp 38.9", {}, "emergency"),
    ("항우울제를 먹는 중에 트라마돌을 같이 먹었더니 다리가 저절로 움찔거리고 땀이 나고 열이 38.8도", {}, "emergency"),
]

# Written (formal, third-person) register with pertinent negatives: no emergency rule may fire. The rule level must be
# below ``emergency`` (None = no rule at all; a lower level names the highest rule level allowed).
WRITTEN_REGISTER_NOT_EMERGENCY = [
    ("45세 남성이 허리 통증을 호소한다. 다리 저림이나 힘 빠짐은 없고 대소변 장애는 부인한다. 발열은 없다.", {}, None),
    ("통증은 다리로 뻗치지 않으며 안장 부위 감각 저하, 배뇨 장애, 하지 근력 저하는 모두 부인한다.", {}, None),
    (
        "양측 관자놀이를 조이는 두통. 구토, 시야 변화, 팔다리 힘 빠짐은 동반하지 않으며 신경학적 이상 소견은 없다.",
        {},
        None,
    ),
    ("두통이 있으나 발열, 구토, 목 경직은 없다.", {}, None),
    ("갑자기 시작된 두통은 아니며 생애 최악의 두통도 아니라고 한다.", {}, None),
    ("오후가 되면 머리가 조이듯 무겁고 뒷목이 당긴다. 열이나 구토는 없다.", {}, None),
    ("어깨와 뒷목이 뻐근하고 머리가 띠를 두른 듯 조인다.", {}, None),
    ("요리 중 손등을 데었다. 화상 부위는 동전 크기로 붉고 물집은 없다.", {}, "urgent"),
    ("손목을 뜨거운 물에 데었다. 크기는 2cm 정도이며 손바닥보다 작다.", {}, None),
    ("입술 가장자리에 물집이 생기고 따끔거린다. 전에도 같은 곳에 생긴 적이 있다.", {}, None),
    ("오른쪽 발목을 접질렸다. 걸을 수 있고 복숭아뼈를 눌러도 통증은 없다.", {}, None),
    ("어제부터 설사 4회, 구토 1회. 혈변, 고열, 심한 복통은 없으며 의식 변화 없음.", {}, None),
    ("복부 경련과 묽은 설사가 있다. 발열은 없다.", {}, None),
    ("팔과 배에 두드러기가 있으나 입술이나 혀의 부종, 호흡곤란, 어지럼은 없다.", {}, None),
    ("기침과 가래가 1주일째 있다. 발열은 없으며 호흡곤란은 부인한다. 흉통은 없다.", {}, None),
    ("흉통이나 호흡곤란 등 다른 증상은 호소하지 않았다. 산소포화도 98%, 호흡수 16회.", {}, None),
    ("의식은 명료하며 지남력 장애는 없다. 황달 소견은 보이지 않는다.", {}, None),
    ("실신이나 어지럼은 없었고 입술이 파랗게 변하지는 않았다.", {}, None),
    ("다리에 모기 물린 자국이 부어 올라왔다. 아이는 잘 놀고 있다.", {}, None),
    ("수면 중 무호흡은 없다고 한다. 3개월째 잠들기 어렵다.", {}, None),
    ("발뒤꿈치 아래가 아침마다 아프다.", {}, None),
    ("열은 38도를 넘지 않았고 물은 잘 마신다.", {}, None),
    ("배뇨 시 작열감과 빈뇨가 있다. 발열과 옆구리 통증은 없다.", {}, "routine"),
    ("평소 저혈압이 있어서 아침에 일어날 때 어지러워요.", {}, None),
    ("I have low blood pressure normally and get a bit dizzy when I stand up quickly.", {}, None),
    ("진료 날짜를 헷갈려서 예약을 놓쳤어요.", {}, None),
    ("heart rate went up to 150 on the treadmill then came down", {}, None),
    (
        "A 40-year-old man reports low back pain after lifting. He denies leg weakness, numbness, saddle anaesthesia, "
        "urinary retention or incontinence, and fever.",
        {},
        None,
    ),
    (
        "She has a band-like headache. She has no fever, neck stiffness, vomiting, visual disturbance, weakness or "
        "speech problems, and the headache did not start suddenly.",
        {},
        None,
    ),
    ("He is alert and oriented. Vital signs are normal. Negative for chest pain and shortness of breath.", {}, None),
    ("Itchy welts on the trunk; no lip or tongue swelling, no wheeze, no trouble breathing, no dizziness.", {}, None),
    ("Three loose stools and one vomit since last night; keeping fluids down, no blood, no fever above 38C.", {}, None),
    ("Red painful patch 3 cm across on the forearm from a hot pan, no blisters; face and hands unaffected.", {}, None),
    ("The patient is not short of breath, is speaking in full sentences and has no cyanosis.", {}, None),
    ("No chest pain, just a cough and a runny nose for four days.", {}, None),
]

# Contrast: the same written register with the red flag affirmed must still fire (negation must not leak across a
# contrastive clause or a list).
WRITTEN_REGISTER_AFFIRMED = [
    ("흉통이 있으나 호흡곤란은 없다. 흉통은 왼팔로 뻗친다.", {}, "emergency"),
    ("두통, 구토, 목 경직이 있으며 체온은 39도이다.", {}, "emergency"),
    ("발열은 없으나 한쪽 팔다리에 힘이 빠지고 말이 어눌하다.", {}, "emergency"),
    ("She has no fever but her lips are blue and she is breathing 36 times a minute.", {}, "emergency"),
    ("No headache; now has crushing chest pain and is sweating.", {}, "emergency"),
]

# Routine floor: problems that need a clinician within days, not home care (the weakest boundary).
ROUTINE_FLOOR = [
    ("26세 여성이 이틀 전부터 배뇨통과 빈뇨를 호소한다. 발열과 옆구리 통증은 없다.", {}, "routine"),
    ("burning when I pee and going every half hour, no fever, not pregnant", {}, "routine"),
    ("인후통과 목 림프절 종대, 심한 피로가 열흘째 지속된다.", {}, "routine"),
    ("sore throat, swollen glands in my neck and exhausted for two weeks", {}, "routine"),
    ("band of blisters on one side of my chest, it's shingles I think", {}, "routine"),
]
